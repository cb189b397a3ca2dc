"""make run's engine (``run_pipeline``): batched runs until nothing is stale; what failed is left alone."""

from __future__ import annotations

from dagster import DagsterRunStatus

from jackpot_pipeline.settings import Settings
from jackpot_pipeline_tests.defs.conftest import Workspace


def configured(workspace: Workspace, leagues: tuple[str, ...], seasons: str) -> Workspace:
    settings = Settings(workspace.settings.base_url, leagues, seasons, workspace.settings.data_dir)
    return Workspace(settings, workspace.instance, workspace.shared)


def test_one_run_per_stage_then_nothing_and_a_new_season_runs_only_what_it_changes(workspace):
    workspace = configured(workspace, ("E0", "E1"), "2122-2223")
    workspace.copy(*(f"mmz4281/{s}/{league}.csv" for s in ("2122", "2223", "2324") for league in ("E0", "E1")))
    first = workspace.pipeline()
    assert first.success, first.failed
    assert [run["label"] for run in first.runs] == [
        "ingest E0|2122..E1|2223 (4)", "walk_forward E0|2122..E1|2223 (4)", "calibration E0|2122..E1|2223 (4)",
        "match_predictions E0|2122..E1|2223 (4)", "validation_reports E0|2122..E1|2223 (4)",
        "form_features E0|2122..E1|2223 (4)", "teams+validation_summary+model_registry+data_freshness"]
    assert first.checks_passed == 5 + 1 and not first.checks_failed
    assert workspace.pipeline().runs == []  # everything current: not one run

    # a season more: its ingestion, the walk-forward of the new season only, calibration of the new season
    # (its history changed) and everything downstream of those
    workspace = configured(workspace, ("E0", "E1"), "2122-2324")
    second = workspace.pipeline()
    assert second.success, second.failed
    labels = [run["label"] for run in second.runs]
    assert labels[:4] == ["ingest E0|2324", "ingest E1|2324", "walk_forward E0|2324", "walk_forward E1|2324"] or \
        labels[0].startswith("ingest"), labels
    assert second.stage_partitions["ingest"] == 2 and second.stage_partitions["walk_forward"] == 2
    assert second.stage_partitions["calibration"] == 2
    runs = workspace.instance.get_runs()
    assert all(run.status == DagsterRunStatus.SUCCESS for run in runs)
    assert {run.tags["jackpot/trigger"] for run in runs} == {"make run"}
    assert workspace.sql("SELECT count(DISTINCT league || season) n FROM match_predictions")["n"][0] == 6


def test_a_broken_file_fails_once_is_left_alone_and_the_rest_completes(workspace):
    workspace = configured(workspace, ("E0", "SP1"), "2324")
    workspace.copy("mmz4281/2324/E0.csv")
    (workspace.raw / "mmz4281/2324").mkdir(parents=True, exist_ok=True)
    (workspace.raw / "mmz4281/2324/SP1.csv").write_bytes(b"Div,Date,HomeTeam\nSP1,01/01/24\n")
    outcome = workspace.pipeline()
    assert not outcome.success
    (label, message), = outcome.failed.items()
    assert label == "ingest E0|2324..SP1|2324 (2)"
    assert message.startswith("1 of 2 partition(s) failed (the others were stored and reported):\nSP1|2324: ")
    assert outcome.left_alone == ["ingest SP1|2324"]
    record = outcome.record(seconds=1.0, fetch=None)  # what the closing summary says about the partitions
    assert (record.configured, record.ingested, record.ingest_failed, record.unchanged) == \
        (["E0|2324", "SP1|2324"], ["E0|2324"], ["SP1|2324"], [])
    assert record.stages["ingest"] == {"done": 1, "failed": 1}
    assert workspace.sql("SELECT DISTINCT league FROM match_predictions")["league"].tolist() == ["E0"]
    again = workspace.pipeline()  # a new make run tries the broken file once more, and nothing else
    assert [run["label"] for run in again.runs] == ["ingest+walk_forward+match_predictions+validation_reports+form_features SP1|2324"]
    assert again.left_alone == ["ingest SP1|2324"]
    record = again.record(seconds=1.0, fetch=None)
    assert (record.ingested, record.ingest_failed, record.unchanged) == ([], ["SP1|2324"], ["E0|2324"])
    assert record.stages["ingest"] == {"done": 0, "failed": 1}


def test_a_season_dropped_from_its_file_is_withdrawn_and_a_deleted_file_recomputed(workspace):
    workspace = configured(workspace, ("NOR",), "1213-1314")
    workspace.copy("new/NOR.csv")
    assert workspace.pipeline().success
    assert workspace.sql("SELECT count(*) n FROM canonical_matches WHERE season = '2012'")["n"][0] == 242
    path = workspace.raw / "new/NOR.csv"
    path.write_bytes(b"\r\n".join(line for line in path.read_bytes().split(b"\r\n") if b",2012," not in line))
    outcome = workspace.pipeline()
    assert outcome.success and outcome.runs[0]["label"].startswith("ingest")
    assert workspace.sql("SELECT count(*) n FROM canonical_matches WHERE season = '2012'")["n"][0] == 0
    withdrawn = workspace.sql("SELECT DISTINCT withdrawn_reason FROM withdrawn_matches WHERE season = '2012'")
    assert withdrawn["withdrawn_reason"].tolist() == ["partition_dropped"]
    assert workspace.pipeline().runs == []  # the absence is recorded: nothing more to do

    # somebody deletes a partition's predictions from the warehouse: the plan finds them missing
    (workspace.settings.warehouse_root / "match_predictions" / "NOR-2013.parquet").unlink()
    again = workspace.pipeline()
    assert [run["label"] for run in again.runs][0] == "match_predictions+validation_reports NOR|2013"
    assert workspace.sql("SELECT count(*) n FROM match_predictions WHERE season = '2013'")["n"][0] > 0
