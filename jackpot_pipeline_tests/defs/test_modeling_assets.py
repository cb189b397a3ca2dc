"""Modeling assets through Dagster on real partitions: snapshots, calibration maps, match predictions, lineage."""

import json

import numpy as np
from dagster import AssetKey, MultiPartitionKey


def run(workspace, job_name: str, partition_key):
    result = workspace.defs().resolve_job_def(job_name).execute_in_process(instance=workspace.instance, partition_key=partition_key)
    assert result.success
    return result


def metadata(workspace, asset: str, partition: str) -> dict:
    record = workspace.instance.get_latest_data_version_record(AssetKey(asset), partition_key=partition)
    return {key: value.value for key, value in record.asset_materialization.metadata.items()}


def test_predictions_for_every_match_with_lineage(workspace):
    seasons = ("2122", "2223", "2324")
    workspace.copy(*(f"mmz4281/{season}/E0.csv" for season in seasons))
    for season in seasons:
        assert workspace.ingest("E0", season).success
    for season in seasons:
        run(workspace, "walk_forward_job", MultiPartitionKey({"league": "E0", "season": season}))
    for season in seasons:
        run(workspace, "calibration_job", season)
        run(workspace, "match_predictions_job", MultiPartitionKey({"league": "E0", "season": season}))

    counts = workspace.sql(
        "SELECT season, count(DISTINCT match_id) matches, count(*) rows FROM match_predictions GROUP BY season ORDER BY season"
    ).values.tolist()
    canonical = workspace.sql("SELECT count(*) n FROM canonical_matches WHERE season = '2324'")["n"][0]
    assert canonical == 380
    # 2021/22 is the first season of this history: a warm-up, then every match; later seasons: all
    assert counts[1:] == [["2223", 380, 380 * 9], ["2324", 380, 380 * 9]]
    assert 300 < counts[0][1] < 380

    sets = workspace.sql("SELECT DISTINCT set_id FROM match_predictions ORDER BY 1")["set_id"].tolist()
    assert sets == sorted(["A", "B", "C", "D", "E", "F", "G", "market_close", "market_pre"])
    sums = workspace.sql(
        "SELECT max(abs(prob_home + prob_draw + prob_away - 1)) worst FROM match_predictions WHERE prob_home IS NOT NULL"
    )["worst"][0]
    assert sums < 1e-9

    # every prediction row leads to its snapshot, and the snapshot was taken before the match
    orphans = workspace.sql(
        """SELECT count(*) n FROM match_predictions p
           WHERE NOT EXISTS (
               SELECT 1 FROM team_strength_snapshots s
               WHERE s.league = p.league AND s.season = p.season AND s.model_version = p.model_version
                 AND s.as_of_date = p.snapshot_as_of)"""
    )["n"][0]
    assert orphans == 0
    # a team without a strength in its snapshot (promoted, no match yet) is predicted with the prior, flagged
    unseen = workspace.sql(
        """SELECT p.home_team, p.flags FROM match_predictions p
           WHERE p.set_id = 'A' AND NOT EXISTS (
               SELECT 1 FROM team_strength_snapshots s WHERE s.model_version = p.model_version AND s.team = p.home_team)"""
    )
    assert len(unseen) > 0 and unseen["flags"].str.contains("unseen_home_team").all()
    assert workspace.sql("SELECT count(*) n FROM match_predictions WHERE snapshot_as_of > match_date")["n"][0] == 0

    # assets fed by many partitions write the whole map of input partitions -> data versions
    walk = metadata(workspace, "uncalibrated_predictions", "E0|2324")
    assert walk["training_seasons"] == ["2122", "2223", "2324"]
    assert set(walk["input_data_versions"]) == {"E0|2122", "E0|2223", "E0|2324"}
    assert all(walk["input_data_versions"].values())
    predicted = metadata(workspace, "match_predictions", "E0|2324")
    assert set(predicted["input_data_versions"]) == {"E0|2324", "2324"}

    calibration = workspace.sql("SELECT * FROM calibration_curves ORDER BY season").to_dict("records")
    assert [row["flags"] for row in calibration[:1]] == ["no_calibration_history"]
    assert calibration[2]["trained_on_end"] < np.datetime64("2023-07-01")
    assert json.loads(calibration[2]["candidate_scores"])["n_fit_rows"] > 0


def test_empty_combination_and_missing_calibration(workspace):
    from jackpot_pipeline.defs.runs import step_failure_message

    workspace.copy("mmz4281/2324/E0.csv", "mmz4281/2324/SP1.csv")
    assert workspace.ingest("E0", "2324").success and workspace.ingest("SP1", "2324").success
    workspace.instance.add_dynamic_partitions("season", ["2014"])
    run(workspace, "walk_forward_job", MultiPartitionKey({"league": "E0", "season": "2014"}))  # no data: empty
    e0, sp1 = (MultiPartitionKey({"league": league, "season": "2324"}) for league in ("E0", "SP1"))

    def predict(key):
        return workspace.defs().resolve_job_def("match_predictions_job").execute_in_process(
            instance=workspace.instance, partition_key=key, raise_on_error=False
        )

    run(workspace, "walk_forward_job", sp1)
    result = predict(sp1)  # no calibration map for the season yet: refused, not guessed
    assert not result.success
    assert "calibration_curves (partitions: 2324) has never been materialised in this warehouse" in step_failure_message(result)

    run(workspace, "calibration_job", "2324")  # only SP1 had predictions for 2324 then
    run(workspace, "walk_forward_job", e0)
    result = predict(e0)
    assert "calibration_curves for season 2324 has no row for E0" in step_failure_message(result)
    run(workspace, "calibration_job", "2324")
    assert predict(e0).success
