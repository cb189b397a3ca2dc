"""Modeling assets: walk-forward strength snapshots and out-of-sample predictions, season calibration maps,
and the long table of match predictions (sets A-G plus both market rows).

Reads go through SQL on the warehouse (a league's training window spans several season partitions);
each asset records the exact upstream partitions and data versions it used in its metadata, because
Dagster keeps only one upstream pointer per input asset.
"""

import json

import pandas as pd
from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AutomationCondition,
    DataVersion,
    DimensionPartitionMapping,
    IdentityPartitionMapping,
    MetadataValue,
    MultiPartitionMapping,
    MultiToSingleDimensionPartitionMapping,
    Output,
    asset,
    multi_asset,
)

from jackpot_pipeline.defs.ingestion.partitions import league_season_partitions, season_partitions
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.model.season_calibration import (
    CALIBRATION_COLUMNS,
    MATCH_PREDICTION_COLUMNS,
    SeasonCalibration,
    SeasonCalibrationConfig,
    fit_season_calibration,
    match_prediction_rows,
)
from jackpot_pipeline.model.walk_forward import (
    PREDICTION_COLUMNS,
    SNAPSHOT_COLUMNS,
    WALK_FORWARD_CODE_VERSION,
    WalkForwardConfig,
    walk_forward,
)
from jackpot_pipeline.sources.leagues import SeasonError, check_season_key, season_window

PARTITION_EXPR = {"league": "league", "season": "season"}
# Key combinations without data (E0|2014) never materialise upstream, so "missing upstream
# partitions" must not hold the automation back; the assets handle absent data themselves.
FOLLOW_UPSTREAM = AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())
SAME_LEAGUE_ALL_SEASONS = MultiPartitionMapping(
    {
        "league": DimensionPartitionMapping("league", IdentityPartitionMapping()),
        "season": DimensionPartitionMapping("season", AllPartitionMapping()),
    }
)


def upstream_versions(context: AssetExecutionContext, asset_name: str, partition_keys: list[str]) -> dict[str, str | None]:
    """{partition key: latest data version} of the upstream partitions this step used."""
    versions = {}
    for key in sorted(partition_keys):
        record = context.instance.get_latest_data_version_record(AssetKey(asset_name), partition_key=key)
        materialization = record.asset_materialization if record else None
        versions[key] = (materialization.tags or {}).get("dagster/data_version") if materialization else None
    return versions


def _version_of(frame: pd.DataFrame, columns: list[str]) -> str:
    return str(pd.util.hash_pandas_object(frame[columns], index=False).sum() & 0xFFFFFFFFFFFF)


@multi_asset(
    name="walk_forward_league_season",
    outs={
        "team_strength_snapshots": AssetOut(
            io_manager_key="warehouse_io_manager",
            metadata={"partition_expr": PARTITION_EXPR},
            description="Walk-forward Dixon-Coles strengths, one snapshot per matchday block (calendar week), "
            "fitted on matches dated strictly before the block.",
            group_name="modeling",
            code_version=WALK_FORWARD_CODE_VERSION,
            automation_condition=FOLLOW_UPSTREAM,
        ),
        "uncalibrated_predictions": AssetOut(
            io_manager_key="warehouse_io_manager",
            metadata={"partition_expr": PARTITION_EXPR},
            description="Out-of-sample Dixon-Coles probabilities and de-vigged pre-closing / closing market "
            "probabilities per match (wide), each with the snapshot it came from.",
            group_name="modeling",
            code_version=WALK_FORWARD_CODE_VERSION,
            automation_condition=FOLLOW_UPSTREAM,
        ),
    },
    deps=[AssetDep("canonical_matches", partition_mapping=SAME_LEAGUE_ALL_SEASONS)],
    partitions_def=league_season_partitions,
    pool="duckdb",
    can_subset=False,
)
def walk_forward_league_season(context: AssetExecutionContext, warehouse: WarehouseResource):
    keys = context.partition_key.keys_by_dimension  # type: ignore[union-attr]
    league, season = keys["league"], keys["season"]
    config = WalkForwardConfig()
    matches = warehouse.query(
        "SELECT * FROM canonical_matches WHERE league = ? ORDER BY match_date, match_id", [league]
    ) if _table_exists(warehouse, "canonical_matches") else pd.DataFrame()
    if matches.empty or season not in set(matches["season"]):
        note = f"no canonical matches for {league}|{season}"
        yield Output(pd.DataFrame(columns=SNAPSHOT_COLUMNS), "team_strength_snapshots", metadata={"note": note})
        yield Output(pd.DataFrame(columns=PREDICTION_COLUMNS), "uncalibrated_predictions", metadata={"note": note})
        return
    result = walk_forward(matches, season, config)
    inputs = upstream_versions(context, "canonical_matches", [f"{league}|{s}" for s in result.training_seasons])
    common = {
        "settings": MetadataValue.json(config.as_dict()),
        "training_seasons": MetadataValue.json(result.training_seasons),
        "input_data_versions": MetadataValue.json(inputs),
    }
    snapshots, predictions = result.snapshots, result.predictions
    version = DataVersion(f"{config.fingerprint()}-{_version_of(predictions, ['match_id', 'model_version', 'model_home', 'model_draw'])}")
    yield Output(snapshots, "team_strength_snapshots", data_version=version, metadata={
        **common,
        "snapshots": int(snapshots["as_of_date"].nunique()),
        "rows": len(snapshots),
        "all_converged": bool(snapshots["converged"].all()) if len(snapshots) else True,
        "model_versions": int(snapshots["model_version"].nunique()),
    })
    yield Output(predictions, "uncalibrated_predictions", data_version=version, metadata={
        **common,
        "rows": len(predictions),
        "warm_up_matches": result.warm_up_matches,
        "with_pre_closing_odds": int(predictions["market_pre_home"].notna().sum()),
        "unseen_team_fixtures": int(predictions["flags"].fillna("").str.contains("unseen").sum()),
    })


def _table_exists(warehouse: WarehouseResource, table: str) -> bool:
    with warehouse.connect() as connection:
        return warehouse.table_exists(connection, table)


@asset(
    partitions_def=season_partitions,
    deps=[AssetDep("uncalibrated_predictions", partition_mapping=AllPartitionMapping())],
    io_manager_key="warehouse_io_manager",
    metadata={"partition_expr": "season"},
    group_name="modeling",
    pool="duckdb",
    code_version="1",
    automation_condition=FOLLOW_UPSTREAM,
    description="Per league, the calibrator of the Set-B blend and the Set-G stacked pool for a season, fitted only "
    "on out-of-sample predictions of matches dated before the season starts (pooled over leagues when the league "
    "alone has too few rows; identity, flagged, when there is no history).",
)
def calibration_curves(context: AssetExecutionContext, warehouse: WarehouseResource) -> Output[pd.DataFrame]:
    season = context.partition_key
    if not _table_exists(warehouse, "uncalibrated_predictions"):
        return Output(pd.DataFrame(columns=CALIBRATION_COLUMNS), metadata={"note": "no predictions yet"})
    leagues = warehouse.query("SELECT DISTINCT league FROM uncalibrated_predictions WHERE season = ? ORDER BY league", [season])["league"].tolist()
    rows, used_partitions = [], set()
    config = SeasonCalibrationConfig()
    for league in leagues:
        try:
            cutoff = season_window(league, season).first_day
        except SeasonError:
            continue
        history = warehouse.query(
            "SELECT league, season, match_id, match_date, status, result, model_home, model_draw, model_away, "
            "market_pre_home, market_pre_draw, market_pre_away FROM uncalibrated_predictions WHERE match_date < ?",
            [pd.Timestamp(cutoff)],
        )
        calibration = fit_season_calibration(history, league, season, cutoff, config)
        rows.append(calibration.to_row())
        scope = history if calibration.scope == "pooled" else history[history["league"] == league]
        used_partitions |= {f"{lg}|{s}" for lg, s in scope[["league", "season"]].drop_duplicates().itertuples(index=False)}
    frame = pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)
    return Output(
        frame,
        data_version=DataVersion(_version_of(frame, ["league", "calibration_version"]) if len(frame) else "empty"),
        metadata={
            "leagues": len(frame),
            "methods": MetadataValue.json(frame.groupby("method").size().to_dict() if len(frame) else {}),
            "scopes": MetadataValue.json(frame.groupby("scope").size().to_dict() if len(frame) else {}),
            "input_data_versions": MetadataValue.json(upstream_versions(context, "uncalibrated_predictions", list(used_partitions))),
            "table": MetadataValue.md(_calibration_markdown(frame)),
        },
    )


def _calibration_markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "no league has this season yet"
    lines = ["| league | scope | method | trained on | n | flags |", "|---|---|---|---|---:|---|"]
    for row in frame.itertuples(index=False):
        window = "-" if pd.isna(row.trained_on_end) else f"{row.trained_on_start:%Y-%m-%d} to {row.trained_on_end:%Y-%m-%d}"
        lines.append(f"| {row.league} | {row.scope} | {row.method} | {window} | {row.n_train} | {row.flags} |")
    return "\n".join(lines)


@asset(
    partitions_def=league_season_partitions,
    ins={
        "uncalibrated_predictions": AssetIn(),
        "calibration_curves": AssetIn(partition_mapping=MultiToSingleDimensionPartitionMapping(partition_dimension_name="season")),
    },
    io_manager_key="warehouse_io_manager",
    metadata={"partition_expr": PARTITION_EXPR},
    group_name="modeling",
    pool="duckdb",
    code_version="1",
    automation_condition=FOLLOW_UPSTREAM,
    description="Every canonical match after the warm-up (scheduled fixtures too), one row per set A-G plus the "
    "de-vigged market_pre and market_close rows. Blends use pre-closing odds; closing odds are a benchmark only.",
)
def match_predictions(
    context: AssetExecutionContext, uncalibrated_predictions: pd.DataFrame, calibration_curves: pd.DataFrame
) -> Output[pd.DataFrame]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[union-attr]
    league, season = keys["league"], keys["season"]
    try:
        check_season_key(league, season)
    except SeasonError as error:
        return Output(pd.DataFrame(columns=MATCH_PREDICTION_COLUMNS), metadata={"note": f"no data: {error}"})
    mine = calibration_curves[calibration_curves["league"] == league] if len(calibration_curves) else calibration_curves
    if uncalibrated_predictions.empty:
        return Output(pd.DataFrame(columns=MATCH_PREDICTION_COLUMNS), metadata={"note": f"no predictions for {league}|{season}"})
    if mine.empty:
        raise ValueError(
            f"{league}|{season}: calibration_curves for season {season} has no row for {league}; "
            "materialise calibration_curves for this season first"
        )
    calibration = SeasonCalibration.from_row(mine.iloc[0].to_dict())
    long = match_prediction_rows(uncalibrated_predictions, calibration)
    per_set = long.groupby("set_id")["prob_home"].count().to_dict()
    return Output(
        long,
        metadata={
            "rows": len(long),
            "matches": int(long["match_id"].nunique()),
            "calibration_version": calibration.version,
            "calibration_method": calibration.method,
            "calibration_scope": calibration.scope,
            "rows_with_probabilities": MetadataValue.json(per_set),
            "input_data_versions": MetadataValue.json(
                upstream_versions(context, "uncalibrated_predictions", [f"{league}|{season}"])
                | upstream_versions(context, "calibration_curves", [season])
            ),
        },
    )


modeling_assets = [walk_forward_league_season, calibration_curves, match_predictions]
