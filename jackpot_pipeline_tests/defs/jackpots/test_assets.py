"""The jackpot assets on the real sample card through Dagster: predictions, exports, validation,
immutability, fallbacks, batched runs over several cards, and ``make run`` picking up new cards."""

from __future__ import annotations

import hashlib
import json
import math
import stat

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, AssetRecordsFilter

from jackpot_pipeline.defs.batch import FINGERPRINT_TAG
from jackpot_pipeline.defs.local_runs import failure_message
from jackpot_pipeline.jackpots.cards import load_card
from jackpot_pipeline_tests.defs.modeled import SAMPLE_CARD, SAMPLE_ID, bad_card_bytes

SETS = ["A", "B", "C", "D", "E", "F", "G"]
# football-data's FTR of the sample fixtures, in card order (the core's tests check them against the files)
SAMPLE_RESULTS = "H D H A A H A A H A D D H D A"


def midweek_card(jackpot_id: str) -> str:
    """A two-fixture CSV card; the second fixture has no odds."""
    return (
        "jackpot_id,name,operator,position,home_team,away_team,league,kickoff,odds_home,odds_draw,odds_away\n"
        f"{jackpot_id},Midweek,SportPesa,1,Arsenal,Everton,E0,19/05/2024 16:00,1.18,8,12\n"
        f"{jackpot_id},Midweek,SportPesa,2,Bayern Munich,Hoffenheim,D1,18/05/2024 14:30,,,\n"
    )


def metadata_of(materialization) -> dict:
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def latest_metadata(workspace, asset: str, partition: str) -> dict:
    record = workspace.instance.get_latest_data_version_record(AssetKey(asset), partition_key=partition)
    return metadata_of(record.asset_materialization)


def test_the_sample_card_end_to_end(modeled):
    print(f"\nsession setup (make run's engine over 15 partitions and the sample card): {modeled.setup_seconds:.1f}s")
    finalising = modeled.setup_run(f"jackpot_predictions {SAMPLE_ID}")
    assert finalising["success"]
    card = load_card(SAMPLE_CARD)

    rows = modeled.sql("SELECT * FROM jackpot_predictions WHERE jackpot_id = ? ORDER BY position, set_id", [SAMPLE_ID])
    assert len(rows) == 15 * 7
    assert rows.groupby("position")["set_id"].apply(list).tolist() == [SETS] * 15
    sums = rows[["prob_home", "prob_draw", "prob_away"]].sum(axis=1)
    assert (sums - 1).abs().max() < 1e-9
    assert set(rows["mode"]) == {"model"}
    assert rows["entropy_bits"].between(0, math.log2(3)).all()
    top = rows[["prob_home", "prob_draw", "prob_away"]].max(axis=1)
    expected_confidence = np.where(top >= 0.6, "high", np.where(top >= 0.45, "medium", "low"))
    assert (rows["confidence"] == expected_confidence).all()
    assert not any(w.startswith("critical") for text in rows["warnings"] for w in json.loads(text))
    # the snapshot used was fitted on matches dated before the kick-off
    assert (pd.to_datetime(rows["snapshot_as_of"]) < rows["kickoff"]).all()

    # Set A is the stored snapshot's Dixon-Coles fit: the walk-forward's own out-of-sample probabilities
    # of these very matches, from the same snapshot
    set_a = rows[rows["set_id"] == "A"]
    walk = modeled.sql("SELECT * FROM uncalibrated_predictions WHERE season = '2324'")
    joined = set_a.merge(walk, on=["league", "home_team", "away_team"], suffixes=("", "_wf"))
    assert len(joined) == 15
    assert (joined["model_version"] == joined["model_version_wf"]).all()
    assert (pd.to_datetime(joined["snapshot_as_of"]) == joined["snapshot_as_of_wf"]).all()
    for ours, theirs in (("prob_home", "model_home"), ("prob_draw", "model_draw"), ("lambda_home", "lambda_home_wf")):
        assert np.allclose(joined[ours], joined[theirs], rtol=0, atol=1e-12)
    explanation = json.loads(set_a.iloc[0]["explanation"])
    assert explanation["dixon_coles"]["lambda_home"] == pytest.approx(set_a.iloc[0]["lambda_home"], abs=1e-12)
    assert explanation["set"]["derivation"]["source"].startswith("Dixon-Coles")

    jackpot = modeled.sql("SELECT * FROM jackpots WHERE jackpot_id = ?", [SAMPLE_ID]).iloc[0]
    assert jackpot["status"] == "finalised" and jackpot["n_fixtures"] == 15
    assert jackpot["card_sha256"] == hashlib.sha256(SAMPLE_CARD.read_bytes()).hexdigest() == card.sha256
    assert jackpot["run_id"] == finalising["run_id"] and set(rows["run_id"]) == {finalising["run_id"]}
    # the finalising run's materialization (later no-op runs add others): what it wrote and from which models
    record = modeled.first_materialization("jackpot_predictions", SAMPLE_ID)
    assert record.run_id == finalising["run_id"]
    metadata = metadata_of(record.asset_materialization)
    assert metadata["status"] == "finalised" and metadata["rows_written"] == 105
    assert metadata["content_sha256"] == jackpot["content_sha256"] and metadata["critical_fixtures"] == 0
    assert set(json.loads(jackpot["model_versions"])) == set(metadata["model_versions"]) == {
        "D1|2324@2024-05-13", "E0|2324@2024-05-13", "F1|2324@2024-05-13", "I1|2324@2024-05-20", "SP1|2324@2024-05-20"
    }
    assert set(json.loads(jackpot["calibration_versions"])) == {f"{league}|2324" for league in ("D1", "E0", "F1", "I1", "SP1")}
    assert "| 6 | Manchester City v West Ham United | E0 |" in metadata["set_b"]
    assert record.asset_materialization.tags[FINGERPRINT_TAG]

    # exports: both files, readable by everyone, parsed back
    json_path, csv_path = modeled.exports / f"{SAMPLE_ID}.json", modeled.exports / f"{SAMPLE_ID}.csv"
    assert [stat.S_IMODE(path.stat().st_mode) for path in (json_path, csv_path)] == [0o644, 0o644]
    exported = json.loads(json_path.read_text())
    table = pd.read_csv(csv_path)
    assert len(table) == 105 and list(table["set_id"][:7]) == SETS
    assert exported["jackpot"]["card_sha256"] == card.sha256 and exported["jackpot"]["run_id"] == finalising["run_id"]
    assert [f["position"] for f in exported["fixtures"]] == list(range(1, 16))
    assert all(set(f["sets"]) == set(SETS) for f in exported["fixtures"])
    assert exported["tickets"]["budget"] == {"max_doubles": 3, "max_triples": 1, "max_lines": None}
    assert exported["tickets"]["bonus_tiers"] == [15, 14, 13]
    for set_id in SETS:
        tickets = exported["tickets"]["sets"][set_id]
        likely, optimised = tickets["most_likely"], tickets["optimised"]
        assert len(likely["correct_picks_distribution"]) == 16
        assert sum(likely["correct_picks_distribution"]) == pytest.approx(1, abs=1e-12)
        assert likely["p_all_correct"] == pytest.approx(likely["correct_picks_distribution"][15], rel=1e-9)
        assert set(likely["p_at_least"]) == {"15", "14", "13"}
        assert likely["p_at_least"]["15"] <= likely["p_at_least"]["14"] <= likely["p_at_least"]["13"]
        picks = rows[rows["set_id"] == set_id]["pick"].tolist()
        assert likely["selections"] == picks and likely["lines"] == 1
        assert optimised["n_doubles"] <= 3 and optimised["n_triples"] <= 1 and optimised["lines"] <= 24
        assert optimised["p_all_correct"] >= likely["p_all_correct"]
    exports_metadata = latest_metadata(modeled, "jackpot_exports", SAMPLE_ID)
    assert exports_metadata["json_path"] == str(json_path)
    assert exports_metadata["tickets"]["B"]["optimised_lines"] == exported["tickets"]["sets"]["B"]["optimised"]["lines"]

    # validation on the real results, all 15 found in the ingested matches
    results = modeled.sql("SELECT * FROM jackpot_results WHERE jackpot_id = ? ORDER BY position", [SAMPLE_ID])
    assert " ".join(results["result"]) == SAMPLE_RESULTS
    assert set(results["source"]) == {"matches"}
    scores = modeled.sql("SELECT * FROM jackpot_validation WHERE jackpot_id = ? ORDER BY set_id", [SAMPLE_ID])
    assert scores["set_id"].tolist() == SETS
    assert (scores["n_scored"] == 15).all() and scores["brier"].notna().all() and scores["rps"].notna().all()
    outcomes = ["HDA".index(r) for r in SAMPLE_RESULTS.split()]
    for set_id, group in rows.groupby("set_id"):
        correct = int((group["pick"].map({"1": 0, "X": 1, "2": 2}).to_numpy() == outcomes).sum())
        assert scores.set_index("set_id").loc[set_id, "correct_picks"] == correct
    assert latest_metadata(modeled, "jackpot_validation", SAMPLE_ID)["results"] == SAMPLE_RESULTS


def test_make_run_leaves_nothing_stale_after_the_sample(modeled):
    again = modeled.pipeline()
    assert (again.runs, again.failed, again.left_alone) == ([], {}, [])


def test_a_finalised_card_cannot_change_and_an_unchanged_rerun_is_a_no_op(modeled):
    card_file = modeled.cards / SAMPLE_CARD.name
    original = card_file.read_bytes()
    stored = modeled.stored_bytes(SAMPLE_ID)
    assert set(stored) == {"jackpots", "jackpot_predictions"}
    export = (modeled.exports / f"{SAMPLE_ID}.json").read_bytes()

    again = modeled.predict(SAMPLE_ID)
    assert again.success
    metadata = latest_metadata(modeled, "jackpot_predictions", SAMPLE_ID)
    assert metadata["status"] == "unchanged" and metadata["rows_written"] == 0
    assert "nothing written" in metadata["note"]
    assert metadata["finalised_run_id"] == modeled.setup_run(f"jackpot_predictions {SAMPLE_ID}")["run_id"]
    assert modeled.stored_bytes(SAMPLE_ID) == stored
    # the data version names the finalised rows, so a no-op run does not make anything downstream stale
    versions = [
        r.asset_materialization.tags["dagster/data_version"]
        for r in modeled.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("jackpot_predictions"), asset_partitions=[SAMPLE_ID]), limit=10).records
    ]
    assert len(versions) >= 2 and len(set(versions)) == 1
    outputs = modeled.run("jackpot_outputs", partitions=[SAMPLE_ID])
    assert outputs.success
    assert (modeled.exports / f"{SAMPLE_ID}.json").read_bytes() == export  # deterministic export

    edits = {
        "a team": (b'"home": "Brentford"', b'"home": "Brentford FC"', "fixture 5 home: 'Brentford' -> 'Brentford FC'"),
        "an odd": (b'{"home": 1.08, "draw": 12.0', b'{"home": 1.09, "draw": 12.0', "fixture 6 odds: '1.08/12/21' -> '1.09/12/21'"),
    }
    try:
        for old, new, change in edits.values():
            assert original.count(old) == 1
            card_file.write_bytes(original.replace(old, new))
            refused = modeled.predict(SAMPLE_ID)
            assert not refused.success
            message = failure_message(refused)
            assert message.startswith(f"jackpot '{SAMPLE_ID}' was finalised in run {stored_run_id(modeled)}")
            assert f"now has sha256 {hashlib.sha256(card_file.read_bytes()).hexdigest()}" in message
            assert change in message
            assert "save the card under a new jackpot_id" in message
            assert modeled.stored_bytes(SAMPLE_ID) == stored
    finally:
        card_file.write_bytes(original)
    assert modeled.predict(SAMPLE_ID).success
    assert modeled.stored_bytes(SAMPLE_ID) == stored


def stored_run_id(workspace) -> str:
    return workspace.sql("SELECT run_id FROM jackpots WHERE jackpot_id = ?", [SAMPLE_ID])["run_id"][0]


def test_a_newer_model_is_refused_for_a_finalised_card(modeled):
    """A snapshot dated between the finalised one and the kick-off (new data arrived): another model."""
    stored = modeled.stored_bytes(SAMPLE_ID)
    snapshots = modeled.store.path("team_strength_snapshots", "D1|2324")
    original = snapshots.read_bytes()
    frame = modeled.store.read("team_strength_snapshots", "D1|2324")
    newer = frame[frame["as_of_date"] == pd.Timestamp("2024-05-13")].assign(
        as_of_date=pd.Timestamp("2024-05-17"), model_version="test-newer-model")
    assert len(newer) >= 18  # every team of the training window
    modeled.store.write("team_strength_snapshots", pd.concat([frame, newer], ignore_index=True), "D1|2324")
    try:
        refused = modeled.predict(SAMPLE_ID)
        message = failure_message(refused)
        assert not refused.success
        assert f"jackpot '{SAMPLE_ID}' was finalised in run" in message and "with other model versions" in message
        assert "model D1|2324@2024-05-17: (not used) -> test-newer-model" in message
        assert "model D1|2324@2024-05-13: " in message and " -> (not used)" in message
        assert "new jackpot_id" in message
        assert modeled.stored_bytes(SAMPLE_ID) == stored
    finally:
        snapshots.write_bytes(original)
    assert modeled.predict(SAMPLE_ID).success


FALLBACK_CARD = {
    "jackpot_id": "fallbacks", "name": "Fallback paths", "fixtures": [
        {"home": "Nowhere Rovers", "away": "Arsenal", "league": "E0", "kickoff": "2024-05-19T16:00",
         "odds": {"home": 5.0, "draw": 4.0, "away": 1.6}},
        {"home": "Nowhere Rovers", "away": "Chelsea", "league": "E0", "kickoff": "2024-05-19T16:00"},
        {"home": "Atlantis Town", "away": "Lemuria Athletic", "kickoff": "2024-05-19T16:00"},
        {"home": "Leeds", "away": "Norwich", "league": "E1", "kickoff": "2024-05-19T16:00",
         "odds": {"home": 2.0, "draw": 3.4, "away": 3.6}},
        {"home": "Arsenal", "away": "Everton", "league": "E0", "kickoff": "2024-05-19T16:00"},
    ],
}


def test_fixtures_the_model_cannot_price_fall_back_loudly(modeled):
    with modeled.scratch_card("fallbacks.json", json.dumps(FALLBACK_CARD)):
        assert modeled.predict("fallbacks").success
        rows = modeled.sql("SELECT * FROM jackpot_predictions WHERE jackpot_id = 'fallbacks' ORDER BY position, set_id")
        jackpot = modeled.sql("SELECT model_versions FROM jackpots WHERE jackpot_id = 'fallbacks'")
        metadata = latest_metadata(modeled, "jackpot_predictions", "fallbacks")
    assert ((rows[["prob_home", "prob_draw", "prob_away"]].sum(axis=1) - 1).abs() < 1e-9).all()
    first = rows[rows["set_id"] == "A"].set_index("position")
    assert first["mode"].tolist() == ["market_only", "league_prior", "league_prior", "market_only", "model"]
    warnings = {position: json.loads(text) for position, text in first["warnings"].items()}
    for position in (1, 2, 3, 4):
        assert any(w.startswith("critical: fallback") for w in warnings[position]), warnings[position]
    assert not any(w.startswith("critical") for w in warnings[5])
    assert any("no strength snapshot of E1" in w for w in warnings[4])

    # market_only: every set is the operator's odds, de-vigged multiplicatively; no model version recorded
    odds = np.array([5.0, 4.0, 1.6])
    fixture_1 = rows[rows["position"] == 1]
    assert np.allclose(fixture_1[["prob_home", "prob_draw", "prob_away"]].to_numpy(), (1 / odds) / (1 / odds).sum(), atol=1e-15)
    assert fixture_1["model_version"].isna().all()
    # league_prior in a modeled league: the unseen-team prior through the E0 fit; unknown league: base rates
    assert first.loc[2, "model_version"] is not None and first.loc[2, "lambda_home"] > 0
    assert "league_prior" in first.loc[2, "flags"]
    assert pd.isna(first.loc[3, "league"]) and pd.isna(first.loc[3, "lambda_home"])
    assert "played matches (all leagues)" in json.loads(first.loc[3, "explanation"])["set"]["source"]
    assert set(json.loads(jackpot["model_versions"][0])) == {"E0|2324@2024-05-13"}
    assert metadata["status"] == "finalised" and metadata["rows_written"] == 35 and metadata["critical_fixtures"] == 4
    assert metadata["warnings"] >= 4 and "Nowhere Rovers' not resolved" in metadata["warning_list"]
    assert not modeled.store.exists("jackpots", "fallbacks")  # the scratch card is gone with its rows


def test_one_run_over_several_cards_reports_each_card_on_its_own(modeled):
    """A ranged run: one materialization per card with its own data version and fingerprint; the bad card
    fails the step naming only itself, after the good one was stored and reported."""
    with (modeled.scratch_card("batch_midweek.csv", midweek_card("batch_midweek")),
          modeled.scratch_card("batch_zz_broken.json", bad_card_bytes("batch_zz_broken"))):
        modeled.add(jackpots=("batch_midweek", "batch_zz_broken"))
        order = modeled.instance.get_dynamic_partitions("jackpots")
        assert order.index("batch_zz_broken") == order.index("batch_midweek") + 1
        result = modeled.run("jackpot_predictions", partitions=["batch_midweek", "batch_zz_broken"], raise_on_error=False)
        assert not result.success
        message = failure_message(result)
        assert message.startswith("1 of 2 partition(s) failed (the others were stored and reported):\nbatch_zz_broken: ")
        assert "fixture 3, field 'odds.draw'" in message and "batch_midweek" not in message
        (event,) = result.asset_materializations_for_node("jackpot_predictions")
        assert event.partition == "batch_midweek"
        assert event.tags["dagster/code_version"] == "1" and event.tags[FINGERPRINT_TAG]
        midweek = modeled.sql("SELECT * FROM jackpots WHERE jackpot_id = 'batch_midweek'").iloc[0]
        assert event.tags["dagster/data_version"] == hashlib.sha256(
            f"{midweek['card_sha256']}|{midweek['content_sha256']}".encode()).hexdigest()[:24]
        assert not modeled.store.exists("jackpots", "batch_zz_broken")

        # the planner finds the card current: the fingerprint recorded is the one it computes
        planned = modeled.pipeline()
        assert [run["label"] for run in planned.runs] == ["jackpot_outputs batch_midweek"]
        assert any("batch_zz_broken.json" in problem for problem in planned.skipped_files)

        # two good cards in one run: two events, each with its own data version
        modeled.forget_jackpot("batch_midweek")
        modeled.add(jackpots=("batch_midweek",))
        (modeled.cards / "batch_zz_broken.json").write_bytes(bad_card_bytes("batch_zz_broken").replace(b"0.5", b"3.5"))
        both = modeled.instance.get_dynamic_partitions("jackpots")[-2:]
        assert both == ["batch_zz_broken", "batch_midweek"]
        result = modeled.run("jackpot_predictions", partitions=both)
        events = {event.partition: event for event in result.asset_materializations_for_node("jackpot_predictions")}
        assert set(events) == {"batch_midweek", "batch_zz_broken"}
        assert len({event.tags["dagster/data_version"] for event in events.values()}) == 2
        assert metadata_of(events["batch_zz_broken"])["rows_written"] == 15 * 7
        assert metadata_of(events["batch_midweek"])["rows_written"] == 2 * 7


def test_make_run_finalises_new_cards_skips_bad_ones_and_leaves_finalised_ones_alone(modeled):
    stored = modeled.stored_bytes(SAMPLE_ID)
    with (modeled.scratch_card("midweek.csv", midweek_card("midweek")),
          modeled.scratch_card("broken.json", '{"jackpot_id": "broken", "name": "x", "fixtures": []}')):
        outcome = modeled.pipeline()
        assert outcome.failed == {}
        assert [run["label"] for run in outcome.runs] == ["jackpot_predictions midweek", "jackpot_outputs midweek"]
        (skipped,) = outcome.skipped_files
        assert skipped.startswith(f"card: {modeled.cards / 'broken.json'}") and "fixtures" in skipped
        assert modeled.instance.get_dynamic_partitions("jackpots").count("broken") == 0
        midweek = modeled.sql("SELECT position, set_id, mode, flags FROM jackpot_predictions WHERE jackpot_id = 'midweek'")
        assert (modeled.exports / "midweek.json").is_file()
    assert modeled.stored_bytes(SAMPLE_ID) == stored
    assert len(midweek) == 14 and set(midweek["mode"]) == {"model"}
    # fixture 2 has no odds: B-G fall back to the model, flagged, never silently
    assert midweek[(midweek["position"] == 2) & (midweek["set_id"] == "B")]["flags"].str.contains("no_market_odds").all()
