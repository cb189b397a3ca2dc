"""Modeling assets through Dagster on real partitions: snapshots, calibration maps, match predictions, lineage."""

import json

import numpy as np
from dagster import AssetKey

from jackpot_pipeline_tests.defs.conftest import failure_message

SEASONS = ("2122", "2223", "2324")
KEYS = [f"E0|{season}" for season in SEASONS]


def metadata(workspace, asset: str, partition: str) -> dict:
    record = workspace.instance.get_latest_data_version_record(AssetKey(asset), partition_key=partition)
    return {key: value.value for key, value in record.asset_materialization.metadata.items()}


def test_predictions_for_every_match_with_lineage(workspace):
    workspace.copy(*(f"mmz4281/{season}/E0.csv" for season in SEASONS))
    workspace.add(*KEYS)
    for stage in ("ingest", "walk_forward", "calibration", "match_predictions", "form_features"):
        assert workspace.run(stage, partitions=KEYS).success  # one batched run per stage

    counts = workspace.sql(
        "SELECT season, count(DISTINCT match_id) matches, count(*) rows FROM match_predictions GROUP BY season ORDER BY season"
    ).values.tolist()
    assert workspace.sql("SELECT count(*) n FROM canonical_matches WHERE season = '2324'")["n"][0] == 380
    # 2021/22 is the first season of this history: a warm-up, then every match; later seasons: all
    assert counts[1:] == [["2223", 380, 380 * 10], ["2324", 380, 380 * 10]]  # A0, A-G and both markets
    assert 300 < counts[0][1] < 380

    sets = workspace.sql("SELECT DISTINCT set_id FROM match_predictions ORDER BY 1")["set_id"].tolist()
    assert sets == sorted(["A0", "A", "B", "C", "D", "E", "F", "G", "market_close", "market_pre"])
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

    # every partition records exactly the upstream partitions and data versions it read
    walk = metadata(workspace, "uncalibrated_predictions", "E0|2324")
    assert walk["training_seasons"] == list(SEASONS)
    assert set(walk["input_data_versions"]) == {f"canonical_matches[{key}]" for key in KEYS}
    assert all(walk["input_data_versions"].values())
    predicted = metadata(workspace, "match_predictions", "E0|2324")
    assert set(predicted["input_data_versions"]) == {"uncalibrated_predictions[E0|2324]", "calibration_curves[E0|2324]"}
    calibrated = metadata(workspace, "calibration_curves", "E0|2324")
    assert set(calibrated["input_data_versions"]) == {"uncalibrated_predictions[E0|2122]", "uncalibrated_predictions[E0|2223]"}

    # form and baselines: one row per match and side, one per match date, from this season and the one before
    assert workspace.sql("SELECT count(*) n FROM team_form_features WHERE season = '2324'")["n"][0] == 760
    assert workspace.sql("SELECT count(DISTINCT as_of_date) n FROM league_baselines WHERE season = '2324'")["n"][0] == \
        workspace.sql("SELECT count(DISTINCT match_date) n FROM canonical_matches WHERE season = '2324'")["n"][0]
    for asset in ("team_form_features", "league_baselines"):
        recorded = metadata(workspace, asset, "E0|2324")["input_data_versions"]
        assert set(recorded) == {"canonical_matches[E0|2223]", "canonical_matches[E0|2324]"} and all(recorded.values())

    calibration = workspace.sql("SELECT * FROM calibration_curves ORDER BY season").to_dict("records")
    assert [row["flags"] for row in calibration[:1]] == ["no_calibration_history"]
    assert calibration[2]["trained_on_end"] < np.datetime64("2023-07-01")
    assert json.loads(calibration[2]["candidate_scores"])["n_fit_rows"] > 0


def test_missing_calibration_is_refused_not_guessed(workspace):
    workspace.copy("mmz4281/2324/E0.csv", "mmz4281/2324/SP1.csv")
    assert workspace.ingest("E0", "2324").success and workspace.ingest("SP1", "2324").success
    assert workspace.run("walk_forward", partitions=["SP1|2324"]).success
    result = workspace.run("match_predictions", partitions=["SP1|2324"], raise_on_error=False)
    assert not result.success
    assert failure_message(result) == ("SP1|2324: calibration_curves has no row for this league and season; "
                                       "materialise calibration_curves for it first")
    assert workspace.run("calibration", partitions=["SP1|2324"]).success
    assert workspace.run("match_predictions", partitions=["SP1|2324"]).success
