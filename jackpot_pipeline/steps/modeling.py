"""What the modeling assets compute for one league × season: frames to store, their data versions and the
metadata shown with them. Pure functions of the input frames."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from jackpot_pipeline.model.form import LEAGUE_BASELINE_COLUMNS, TEAM_FORM_COLUMNS, league_baselines, team_form_features
from jackpot_pipeline.model.season_calibration import (
    CALIBRATION_COLUMNS,
    MATCH_PREDICTION_COLUMNS,
    SeasonCalibration,
    SeasonCalibrationConfig,
    fit_season_calibration,
    match_prediction_rows,
)
from jackpot_pipeline.model.walk_forward import (
    BASELINE_WALK_FORWARD,
    DEFAULT_WALK_FORWARD,
    UNCALIBRATED_PREDICTION_COLUMNS,
    SNAPSHOT_COLUMNS,
    WalkForwardConfig,
    walk_forward,
    with_baseline,
)
from jackpot_pipeline.reporting import markdown_table
from jackpot_pipeline.sources.leagues import SeasonError, season_window
from jackpot_pipeline.warehouse.store import Warehouse, content_digest

CALIBRATION_HISTORY_COLUMNS = [
    "league", "season", "match_id", "match_date", "status", "result", "model_home", "model_draw", "model_away",
    "market_pre_home", "market_pre_draw", "market_pre_away",
]


@dataclass(frozen=True)
class StepOutput:
    """Per asset: the frame to store, its data version and its metadata."""

    frames: dict[str, pd.DataFrame]
    metadata: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def versions(self) -> dict[str, str]:
        return {asset: frame_version(frame) for asset, frame in self.frames.items()}


def frame_version(frame: pd.DataFrame) -> str:
    """The data version of a stored frame: its content (an empty frame is ``empty``)."""
    return content_digest(frame)[:24] if len(frame) else "empty"


def walk_forward_step(matches: pd.DataFrame, league: str, season: str,
                      config: WalkForwardConfig = DEFAULT_WALK_FORWARD,
                      baseline: WalkForwardConfig | None = BASELINE_WALK_FORWARD,
                      lower_division: pd.DataFrame | None = None) -> StepOutput:
    """Snapshots and out-of-sample predictions of one league-season; ``matches``: canonical matches of the
    training window (other seasons are ignored by the walk-forward anyway), of the league and possibly of the
    division below (``lower_division`` may also be given apart). ``baseline``: a second walk-forward whose 1X2
    is stored beside the model's (set A0)."""
    if lower_division is None and len(matches) and matches["league"].nunique() > 1:
        lower_division = matches[matches["league"] != league]
    matches = matches[matches["league"] == league] if len(matches) else matches
    if matches.empty or season not in set(matches["season"]):
        note = {"note": f"no canonical matches for {league}|{season}"}
        return StepOutput({"team_strength_snapshots": pd.DataFrame(columns=SNAPSHOT_COLUMNS),
                           "uncalibrated_predictions": pd.DataFrame(columns=UNCALIBRATED_PREDICTION_COLUMNS)},
                          {"team_strength_snapshots": note, "uncalibrated_predictions": note})
    result = walk_forward(matches, season, config, lower_division)
    snapshots, predictions = result.snapshots, result.predictions
    common = {"settings": config.as_dict(), "training_seasons": result.training_seasons}
    if baseline is not None:
        # only the baseline's 1X2 is kept: it skips its snapshots and version hashes
        baseline_predictions = walk_forward(matches, season, baseline, lower_division, predictions_only=True).predictions
        predictions = with_baseline(predictions, baseline_predictions)
        common["baseline_settings"] = baseline.as_dict()
    return StepOutput(
        {"team_strength_snapshots": snapshots, "uncalibrated_predictions": predictions},
        {
            "team_strength_snapshots": {
                **common, "snapshots": int(snapshots["as_of_date"].nunique()), "rows": len(snapshots),
                "all_converged": bool(snapshots["converged"].all()) if len(snapshots) else True,
                "model_versions": int(snapshots["model_version"].nunique()),
            },
            "uncalibrated_predictions": {
                **common, "rows": len(predictions), "warm_up_matches": result.warm_up_matches,
                "with_pre_closing_odds": int(predictions["market_pre_home"].notna().sum()),
                "unseen_team_fixtures": int(predictions["flags"].fillna("").str.contains("unseen").sum()),
            },
        },
    )


def form_features_step(matches: pd.DataFrame, league: str, season: str) -> StepOutput:
    """Team form and league baselines of one league-season from the league's canonical matches of this season
    and the one before (form reaches back across the season boundary)."""
    form = team_form_features(matches, league, season) if len(matches) else pd.DataFrame(columns=TEAM_FORM_COLUMNS)
    baselines = league_baselines(matches, league, season) if len(matches) else pd.DataFrame(columns=LEAGUE_BASELINE_COLUMNS)
    return StepOutput({"team_form_features": form, "league_baselines": baselines}, {
        "team_form_features": {"rows": len(form), "teams": int(form["team"].nunique()) if len(form) else 0},
        "league_baselines": {
            "rows": len(baselines),
            "final_draw_rate": float(baselines["draw_rate"].iloc[-1]) if len(baselines) else None,
        },
    })


def form_features_partition(root: str, partition: str, inputs: Mapping[str, str | None]) -> PartitionResult:
    store = Warehouse(root)
    matches = read_inputs(store, "canonical_matches", inputs)
    return save(store, partition, form_features_step(matches, *partition.split("|", 1)))


def calibration_cutoff(league: str, season: str) -> dt.date | None:
    try:
        return season_window(league, season).first_day
    except SeasonError:
        return None


def calibration_step(history: pd.DataFrame, league: str, season: str,
                     config: SeasonCalibrationConfig = SeasonCalibrationConfig(), pooled_fits: dict | None = None) -> StepOutput:
    """The calibrator of the Set-B blend and the Set-G pool of one league-season, fitted on the predictions
    in ``history`` dated before the season starts (any league; :func:`fit_season_calibration` picks the league
    alone or the pool)."""
    cutoff = calibration_cutoff(league, season)
    if cutoff is None:
        return StepOutput({"calibration_curves": pd.DataFrame(columns=CALIBRATION_COLUMNS)},
                          {"calibration_curves": {"note": f"{league}|{season} is not a season key"}})
    calibration = fit_season_calibration(history, league, season, cutoff, config, pooled_fits)
    frame = pd.DataFrame([calibration.to_row()], columns=CALIBRATION_COLUMNS)
    window = "-" if calibration.trained_on_end is None else f"{calibration.trained_on_start} to {calibration.trained_on_end}"
    return StepOutput({"calibration_curves": frame}, {"calibration_curves": {
        "calibration_version": calibration.version, "method": calibration.method, "scope": calibration.scope,
        "n_train": calibration.n_train, "cutoff_date": cutoff.isoformat(),
        "table": markdown_table(["league", "season", "scope", "method", "trained on", "n", "flags"],
                                [[league, season, calibration.scope, calibration.method, window, calibration.n_train,
                                  ",".join(calibration.flags) or "-"]], align="lllllrl"),
    }})


def match_predictions_step(uncalibrated: pd.DataFrame, calibration_row: dict[str, object] | None,
                           league: str, season: str) -> StepOutput:
    """Sets A-G and both market rows of every predicted match of one league-season."""
    if uncalibrated.empty:
        return StepOutput({"match_predictions": pd.DataFrame(columns=MATCH_PREDICTION_COLUMNS)},
                          {"match_predictions": {"note": f"no predictions for {league}|{season}"}})
    if calibration_row is None:
        raise LookupError(f"{league}|{season}: calibration_curves has no row for this league and season; "
                          "materialise calibration_curves for it first")
    calibration = SeasonCalibration.from_row(calibration_row)
    long = match_prediction_rows(uncalibrated, calibration)
    return StepOutput({"match_predictions": long}, {"match_predictions": {
        "rows": len(long), "matches": int(long["match_id"].nunique()), "calibration_version": calibration.version,
        "calibration_method": calibration.method, "calibration_scope": calibration.scope,
        "rows_with_probabilities": long.groupby("set_id")["prob_home"].count().to_dict(),
    }})


# --- one partition end to end: read from the warehouse, compute, write back -----------------------


@dataclass(frozen=True)
class PartitionResult:
    """What a partition's step stored: per asset its data version and metadata (for the materialization)."""

    versions: dict[str, str]
    metadata: dict[str, dict[str, object]]


def save(store: Warehouse, partition: str | None, output: StepOutput) -> PartitionResult:
    versions = output.versions
    metadata = {}
    for asset, frame in output.frames.items():
        store.write(asset, frame, partition)
        metadata[asset] = {**output.metadata.get(asset, {}), "rows": len(frame)}
    return PartitionResult(versions, metadata)


def read_inputs(store: Warehouse, asset: str, inputs: Mapping[str, str | None], columns=None) -> pd.DataFrame:
    """The stored partitions of ``asset`` named in a fingerprint's inputs (keys ``asset[partition]``), in one frame."""
    prefix = f"{asset}["
    frames = [store.read(asset, key[len(prefix):-1], columns) for key in sorted(inputs) if key.startswith(prefix)]
    frames = [frame for frame in frames if frame is not None and len(frame)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def walk_forward_partition(root: str, partition: str, inputs: Mapping[str, str | None],
                           config: WalkForwardConfig = DEFAULT_WALK_FORWARD) -> PartitionResult:
    store = Warehouse(root)
    matches = read_inputs(store, "canonical_matches", inputs)
    return save(store, partition, walk_forward_step(matches, *partition.split("|", 1), config))


def calibration_history(store: Warehouse, inputs: Mapping[str, str | None]) -> pd.DataFrame:
    """The walk-forward predictions the calibrations of ``inputs`` are fitted on, prepared for many fits."""
    history = read_inputs(store, "uncalibrated_predictions", inputs, CALIBRATION_HISTORY_COLUMNS)
    if len(history):  # dates parsed once here, not again by every partition's fit
        history["match_date"] = pd.to_datetime(history["match_date"])
    # every partition's fit compares these columns with one value: categories compare codes, not strings
    return history.astype({"league": "category", "status": "category"})


def calibration_partitions(root: str, partitions: list[str], inputs: Mapping[str, str | None],
                           config: SeasonCalibrationConfig = SeasonCalibrationConfig()) -> dict[str, PartitionResult | Exception]:
    """Several partitions at once, reading their common history (the union of their ``inputs``) once."""
    store = Warehouse(root)
    history = calibration_history(store, inputs)
    done: dict[str, PartitionResult | Exception] = {}
    pooled_fits: dict = {}
    for partition in partitions:
        try:
            done[partition] = save(store, partition, calibration_step(history, *partition.split("|", 1), config, pooled_fits))
        except Exception as error:  # noqa: BLE001 - reported with its partition
            done[partition] = error
    return done


def match_predictions_partition(root: str, partition: str) -> PartitionResult:
    store = Warehouse(root)
    calibration = store.read("calibration_curves", partition)
    uncalibrated = store.read("uncalibrated_predictions", partition)
    return save(store, partition, match_predictions_step(
        uncalibrated if uncalibrated is not None else pd.DataFrame(),
        calibration.iloc[0].to_dict() if calibration is not None and len(calibration) else None,
        *partition.split("|", 1)))


def calibration_groups(partitions: list[str], count: int) -> list[list[str]]:
    """Partitions split into ``count`` lists for workers, those of one cut-off date together (the leagues that
    borrow the pooled fit of a cut-off share it), the lists about equally long."""
    by_cutoff: dict[object, list[str]] = {}
    for partition in partitions:
        by_cutoff.setdefault(calibration_cutoff(*partition.split("|", 1)), []).append(partition)
    groups: list[list[str]] = [[] for _ in range(max(1, min(count, len(by_cutoff))))]
    for members in sorted(by_cutoff.values(), key=len, reverse=True):
        min(groups, key=len).extend(members)
    return [group for group in groups if group]
