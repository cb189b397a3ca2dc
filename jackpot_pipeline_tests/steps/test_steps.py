"""What each stage computes for one partition, directly on real matches (no Dagster): frames, versions,
metadata, the registry's append-only rule and promotion gate, and work spread over processes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.model import validation as v
from jackpot_pipeline.model.season_calibration import SeasonCalibration
from jackpot_pipeline.model.walk_forward import BASELINE_WALK_FORWARD, walk_forward
from jackpot_pipeline.reporting import Markdown
from jackpot_pipeline.steps.modeling import (
    calibration_groups,
    calibration_step,
    frame_version,
    match_predictions_step,
    walk_forward_step,
)
from jackpot_pipeline.steps.parallel import chunks, map_in_processes
from jackpot_pipeline.steps.progress import listening
from jackpot_pipeline.steps.validation import (
    RegistrySettings,
    freshness_step,
    register_models,
    summary_step,
    validation_report_step,
)
from jackpot_pipeline.sources.football_data import canonicalise, parse_source, partition_rows

SEASONS = ("2122", "2223", "2324")


def season(shared_data, league: str, key: str) -> pd.DataFrame:
    relpath = f"mmz4281/{key}/{league}.csv"
    parsed = parse_source((shared_data / relpath).read_bytes(), relpath)
    (rows,) = partition_rows(parsed, league, key).values()
    return canonicalise(parsed, rows, snapshot_date=dt.date(2024, 6, 1)).canonical


@pytest.fixture(scope="module")
def modeled(shared_data):
    """E0 2021/22-2023/24 through walk-forward, calibration and match predictions, as the assets chain them."""
    matches = pd.concat([season(shared_data, "E0", key) for key in SEASONS], ignore_index=True)
    walked = {key: walk_forward_step(matches, "E0", key) for key in SEASONS}
    history = pd.concat([walked[key].frames["uncalibrated_predictions"] for key in SEASONS[:2]], ignore_index=True)
    calibrated = calibration_step(history, "E0", "2324")
    row = calibrated.frames["calibration_curves"].iloc[0].to_dict()
    predicted = match_predictions_step(walked["2324"].frames["uncalibrated_predictions"], row, "E0", "2324")
    return matches, walked, calibrated, predicted


def test_the_modeling_steps_chain_with_content_versions(modeled):
    matches, walked, calibrated, predicted = modeled
    snapshots = walked["2324"].frames["team_strength_snapshots"]
    assert walked["2324"].metadata["uncalibrated_predictions"]["training_seasons"] == list(SEASONS)
    assert walked["2324"].versions["team_strength_snapshots"] == frame_version(snapshots) != "empty"
    assert len(walked["2324"].frames["uncalibrated_predictions"]) == 380
    # the same input twice, the same versions: data versions are the content
    again = walk_forward_step(matches, "E0", "2324")
    assert again.versions == walked["2324"].versions
    assert calibrated.metadata["calibration_curves"]["cutoff_date"] == "2023-07-01"
    assert isinstance(calibrated.metadata["calibration_curves"]["table"], Markdown)
    assert SeasonCalibration.from_row(calibrated.frames["calibration_curves"].iloc[0].to_dict()).season == "2324"
    long = predicted.frames["match_predictions"]
    assert len(long) == 380 * 10 and predicted.metadata["match_predictions"]["matches"] == 380  # A0, A-G, 2 markets
    assert sorted(long["set_id"].unique()) == ["A", "A0", "B", "C", "D", "E", "F", "G", "market_close", "market_pre"]
    a0 = long[long["set_id"] == "A0"].set_index("match_id")
    baseline = walk_forward(matches, "2324", BASELINE_WALK_FORWARD).predictions.set_index("match_id")
    np.testing.assert_array_equal(a0.loc[baseline.index, "prob_home"].to_numpy(), baseline["model_home"].to_numpy())
    a = long[long["set_id"] == "A"].set_index("match_id")
    assert not np.array_equal(a.loc[baseline.index, "prob_home"].to_numpy(), baseline["model_home"].to_numpy())
    assert walk_forward_step(matches.head(0), "E0", "2324").versions == {"team_strength_snapshots": "empty",
                                                                          "uncalibrated_predictions": "empty"}
    with pytest.raises(LookupError, match="E0\\|2324: calibration_curves has no row"):
        match_predictions_step(walked["2324"].frames["uncalibrated_predictions"], None, "E0", "2324")


def test_pooled_leagues_of_one_cut_off_share_one_fit(modeled, shared_data):
    _, walked, _, _ = modeled
    history = pd.concat([walked[key].frames["uncalibrated_predictions"] for key in SEASONS[:2]], ignore_index=True)
    shared: dict = {}
    # a league with no history of its own borrows the pool of every league before the cut-off
    first = calibration_step(history, "SP1", "2324", pooled_fits=shared)
    second = calibration_step(history, "D1", "2324", pooled_fits=shared)
    assert len(shared) == 1
    rows = [output.frames["calibration_curves"].iloc[0] for output in (first, second)]
    assert [row["scope"] for row in rows] == ["pooled", "pooled"]
    assert rows[0]["calibration_version"] == rows[1]["calibration_version"]
    assert rows[0].drop(["league"]).equals(rows[1].drop(["league"]))
    alone = calibration_step(history, "D1", "2324")  # fitted on its own: the same numbers
    assert alone.frames["calibration_curves"].iloc[0].equals(rows[1])
    groups = calibration_groups(["E0|2223", "E0|2324", "SP1|2324", "D1|2324", "ARG|2023"], 2)
    assert sorted(map(sorted, groups)) == [["ARG|2023", "E0|2223"], ["D1|2324", "E0|2324", "SP1|2324"]]


def test_reports_and_summary_score_the_stored_predictions(modeled):
    _, _, _, predicted = modeled
    long = predicted.frames["match_predictions"]
    report = validation_report_step(long, "E0", "2324")
    frame = report.frames["validation_reports"]
    assert frame["set_id"].tolist() == ["A0", "A", "B", "C", "D", "E", "F", "G", "market_pre", "market_close"]
    assert (frame["n"] == 380).all()
    assert report.metadata["validation_reports"]["reliability_diagram"].startswith("![reliability E0 2324](data:image/png")
    empty = validation_report_step(long.head(0), "E0", "2324")
    assert empty.frames["validation_reports"].empty and "no predictions" in empty.metadata["validation_reports"]["note"]
    summary = summary_step(long)
    assert summary.metadata["validation_summary"]["headline_partitions_present"] == 1
    gain = summary.metadata["validation_summary"]
    a_rows = frame.set_index("set_id")
    # one league-season, every match paired: the gain is the difference of the two means
    assert gain["headline_matches_A_and_A0"] == 280
    assert gain["headline_rps_A_minus_A0"] < 0 and gain["headline_rps_A_minus_A0_se"] > 0
    assert set(a_rows.index) >= {"A0", "A"}
    assert set(summary.frames["validation_summary"]["scope"]) == {"headline", "league", "league_season"}


def test_the_registry_appends_once_and_gates_promotions(modeled):
    _, _, _, predicted = modeled
    reports = v.evaluate_by(predicted.frames["match_predictions"])
    now = dt.datetime(2024, 7, 1)
    common = dict(training_windows={"E0": (dt.date(2021, 8, 13), dt.date(2024, 5, 19))}, parameters={"xi": 0.0018},
                  code_version="1", as_of=dt.date(2024, 9, 15), run_id="r1")  # 2023/24 complete
    first = register_models(reports, None, canonical_versions={"E0|2324": "a"}, now=now, **common)
    assert first.registry_rows["event"].tolist() == ["registered"]
    assert first.registry_rows["status"].tolist() == ["active"]
    same = register_models(reports, first.registry, canonical_versions={"E0|2324": "a"}, now=now, **common)
    assert same.registry_rows.empty and same.decisions == {"E0": None}  # registered once, never twice
    worse = reports.assign(rps=reports["rps"] + 0.01)  # new data, a model worse by more than the tolerance
    gated = register_models(worse, first.registry, canonical_versions={"E0|2324": "b"}, now=now, **common)
    assert gated.registry_rows["status"].tolist() == ["archived"]
    v.assert_append_only(first.registry, gated.registry)
    lenient = dataclasses.replace(RegistrySettings(), policy=dataclasses.replace(v.PromotionPolicy(), tolerance=0.02))
    promoted = register_models(worse, first.registry, canonical_versions={"E0|2324": "b"}, now=now, settings=lenient,
                               **common)
    assert promoted.registry_rows["event"].tolist() == ["registered", "status_change"]
    assert promoted.registry_rows["status"].tolist() == ["active", "archived"]


def test_freshness_names_the_stale_leagues():
    last = pd.DataFrame({"league": ["E0", "SP1"], "last_match_date": pd.to_datetime(["2024-05-19", "2024-04-01"])})
    output = freshness_step(last, dt.date(2024, 5, 26), stale_after_days=21)
    frame = output.frames["data_freshness"]
    assert frame["stale"].tolist() == [False, True] and frame["days_behind"].tolist() == [7, 55]
    assert output.metadata["data_freshness"]["stale_leagues"] == ["SP1"]


def _square_or_fail(value: int) -> int:
    if value == 3:
        raise ValueError("three is refused")
    return value * value


def test_work_spread_over_processes_comes_back_in_order_with_errors_in_place():
    results = map_in_processes(_square_or_fail, list(range(8)))
    assert results[:3] == [0, 1, 4] and results[4:] == [16, 25, 36, 49]
    assert isinstance(results[3], ValueError) and str(results[3]) == "three is refused"
    assert map_in_processes(_square_or_fail, [1, 2], min_tasks=4) == [1, 4]  # small batches stay in this process
    assert chunks(list(range(5)), 2) == [[0, 2, 4], [1, 3]] and chunks([], 3) == []


def test_each_finished_task_is_announced_with_its_partitions_and_failures():
    heard = []
    keys = [f"E0|{season}" for season in ("1819", "1920", "2021", "2122", "2223", "2324")]
    with listening(lambda stage, partitions, failed: heard.append((stage, partitions, failed))):
        results = map_in_processes(_square_or_fail, list(range(6)), stage="ingest", partitions=keys)
        map_in_processes(_square_or_fail, [3, 4], min_tasks=4, stage="calibration", partitions=[keys[:3], keys[3:]])
    assert results[4] == 16
    spread = sorted(heard[:6])  # over processes, in the order they finished
    assert spread == sorted(("ingest", (key,), int(key == "E0|2122")) for key in keys)
    assert heard[6:] == [("calibration", tuple(keys[:3]), 3), ("calibration", tuple(keys[3:]), 0)]
    map_in_processes(_square_or_fail, [1], stage="ingest", partitions=["E0|2324"])
    assert len(heard) == 8  # nobody listens any more
