"""Batched runs: one run covers many partitions and each partition keeps its own event, data version and
metadata; the results equal per-partition runs bit for bit."""

from __future__ import annotations

import pandas as pd
import pytest

from jackpot_pipeline.model.walk_forward import WALK_FORWARD_CODE_VERSION
from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, instance_for_test

from jackpot_pipeline.defs.batch import FINGERPRINT_TAG
from jackpot_pipeline.settings import Settings
from jackpot_pipeline.sources.ingest import INGESTION_TABLES
from jackpot_pipeline_tests.defs.conftest import Workspace, data_version, failure_message

KEYS = ["E0|2122", "E0|2223", "E0|2324", "SP1|2122", "SP1|2223", "SP1|2324"]
STAGES = ("ingest", "walk_forward", "calibration", "match_predictions", "validation_reports")
COMPARED = {
    "canonical_matches": ["league", "season", "match_id"],
    "team_strength_snapshots": ["league", "season", "as_of_date", "team"],
    "uncalibrated_predictions": ["league", "season", "match_id"],
    "calibration_curves": ["league", "season"],
    "match_predictions": ["league", "season", "match_id", "set_id"],
}


def built(tmp_path, shared_data, name: str, instance, *, batched: bool) -> Workspace:
    settings = Settings(base_url=shared_data.as_uri(), leagues=("E0", "SP1"), seasons_spec="2122-2324",
                        data_dir=tmp_path / name)
    workspace = Workspace(settings, instance, shared_data)
    workspace.copy(*(f"mmz4281/{key.split('|')[1]}/{key.split('|')[0]}.csv" for key in KEYS))
    workspace.add(*KEYS)
    for stage in STAGES:
        if batched:
            assert workspace.run(stage, partitions=KEYS).success
        else:
            for key in KEYS:
                assert workspace.run(stage, partitions=[key]).success
    return workspace


@pytest.fixture(scope="module")
def pair(tmp_path_factory, shared_data):
    tmp_path = tmp_path_factory.mktemp("batches")
    with instance_for_test() as one, instance_for_test() as other:
        yield (built(tmp_path, shared_data, "per_partition", one, batched=False),
               built(tmp_path, shared_data, "batched", other, batched=True))


def test_batched_results_equal_per_partition_results_bit_for_bit(pair):
    single, batched = pair
    for table, order in COMPARED.items():
        left = single.sql(f"SELECT * FROM {table} ORDER BY {', '.join(order)}")
        right = batched.sql(f"SELECT * FROM {table} ORDER BY {', '.join(order)}")
        assert len(left) > 0
        pd.testing.assert_frame_equal(left, right, check_exact=True)
    for asset in (*COMPARED, "validation_reports"):
        for key in KEYS:
            assert data_version(single.instance, asset, key) == data_version(batched.instance, asset, key), (asset, key)


def test_each_partition_of_a_batch_has_its_own_event_version_and_metadata(pair):
    _, batched = pair
    runs = batched.instance.get_runs()
    assert len(runs) == len(STAGES)  # one run per stage for all six partitions
    records = batched.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("canonical_matches")), limit=100).records
    assert sorted(record.partition_key for record in records) == sorted(KEYS)
    assert len({record.run_id for record in records}) == 1
    versions = {record.partition_key: record.asset_materialization.tags["dagster/data_version"] for record in records}
    assert len(set(versions.values())) == len(KEYS)
    rows = {record.partition_key: record.asset_materialization.metadata["rows"].value for record in records}
    assert rows == {"E0|2122": 380, "E0|2223": 380, "E0|2324": 380, "SP1|2122": 380, "SP1|2223": 380, "SP1|2324": 380}
    snapshots = batched.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("team_strength_snapshots"), asset_partitions=["SP1|2324"]), limit=5).records
    (snapshot,) = snapshots
    assert snapshot.asset_materialization.tags["dagster/code_version"] == WALK_FORWARD_CODE_VERSION
    assert len(snapshot.asset_materialization.tags[FINGERPRINT_TAG]) == 32
    assert set(snapshot.asset_materialization.metadata["input_data_versions"].value) == {
        "canonical_matches[SP1|2122]", "canonical_matches[SP1|2223]", "canonical_matches[SP1|2324]"}
    planned = [e for e in batched.instance.all_logs(runs[-1].run_id)
               if e.dagster_event and e.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION]
    assert len(planned) == len(KEYS) * len(INGESTION_TABLES)  # the ingestion run: every table, six partitions


def test_a_ranged_run_refuses_a_later_stage_rather_than_skip_it(pair):
    _, batched = pair
    result = batched.run("walk_forward", "match_predictions", partitions=KEYS[:2], raise_on_error=False)
    assert not result.success
    assert failure_message(result).startswith(
        "this run covers 2 partitions and selects match_predictions after stage walk_forward: a run over several "
        "partitions may hold one stage only")
    # one partition through several stages is one run, as the sensor asks for when a file changes
    assert batched.run("walk_forward", "calibration", "match_predictions", "validation_reports",
                       partitions=["E0|2324"]).success


def test_a_failed_partition_fails_the_run_after_the_others_are_stored(tmp_path, shared_data):
    settings = Settings(base_url=shared_data.as_uri(), leagues=("E0",), seasons_spec="2223-2324", data_dir=tmp_path / "data")
    with instance_for_test() as instance:
        workspace = Workspace(settings, instance, shared_data)
        workspace.copy("mmz4281/2223/E0.csv")
        (workspace.raw / "mmz4281/2324").mkdir(parents=True)
        (workspace.raw / "mmz4281/2324/E0.csv").write_text("Div,Date\n")
        workspace.add("E0|2223", "E0|2324")
        result = workspace.run("ingest", partitions=["E0|2223", "E0|2324"], raise_on_error=False)
        assert not result.success
        message = failure_message(result)
        assert message.startswith("1 of 2 partition(s) failed (the others were stored and reported):\nE0|2324: ")
        assert data_version(instance, "canonical_matches", "E0|2223") is not None
        assert data_version(instance, "canonical_matches", "E0|2324") is None
        assert workspace.sql("SELECT count(*) n FROM canonical_matches")["n"][0] == 380
