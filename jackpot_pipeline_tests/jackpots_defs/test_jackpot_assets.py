"""The jackpot assets on the real sample card: predictions, exports, validation, immutability, fallbacks."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey

from jackpot_pipeline.defs.runs import step_failure_message
from jackpot_pipeline.jackpots.cards import load_card
from jackpot_pipeline_tests.jackpots_defs.conftest import SAMPLE_CARD, SAMPLE_ID

SETS = ["A", "B", "C", "D", "E", "F", "G"]
# football-data's FTR of the sample fixtures, in card order (the core's tests check them against the files)
SAMPLE_RESULTS = "H D H A A H A A H A D D H D A"


def latest_metadata(workspace, asset: str, partition: str) -> dict:
    record = workspace.instance.get_latest_data_version_record(AssetKey(asset), partition_key=partition)
    return {key: getattr(value, "value", value) for key, value in record.asset_materialization.metadata.items()}


def table_bytes(workspace, jackpot_id: str) -> bytes:
    """Everything stored about a jackpot, as CSV bytes (byte-equal means untouched)."""
    parts = []
    for table, order in (("jackpots", "jackpot_id"), ("jackpot_predictions", "position, set_id")):
        frame = workspace.sql(f"SELECT * FROM {table} WHERE jackpot_id = ? ORDER BY {order}", [jackpot_id])
        parts.append(frame.to_csv(index=False).encode())
    return b"\n".join(parts)


def test_the_sample_card_end_to_end(modeled):
    print(f"\nsession setup (ingest 15 partitions, teams, 10 walk-forwards, calibration): {modeled.setup_seconds:.1f}s")
    result = modeled.finalise_sample()
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
    assert (rows["snapshot_as_of"] < rows["kickoff"]).all()

    # Set A is the stored snapshot's Dixon-Coles fit: the walk-forward's own out-of-sample probabilities
    # of these very matches, from the same snapshot
    set_a = rows[rows["set_id"] == "A"]
    walk = modeled.sql("SELECT * FROM uncalibrated_predictions WHERE season = '2324'")
    joined = set_a.merge(walk, on=["league", "home_team", "away_team"], suffixes=("", "_wf"))
    assert len(joined) == 15
    assert (joined["model_version"] == joined["model_version_wf"]).all()
    assert (joined["snapshot_as_of"] == joined["snapshot_as_of_wf"]).all()
    for ours, theirs in (("prob_home", "model_home"), ("prob_draw", "model_draw"), ("lambda_home", "lambda_home_wf")):
        assert np.allclose(joined[ours], joined[theirs], rtol=0, atol=1e-12)
    explanation = json.loads(set_a.iloc[0]["explanation"])
    assert explanation["dixon_coles"]["lambda_home"] == pytest.approx(set_a.iloc[0]["lambda_home"], abs=1e-12)
    assert explanation["set"]["derivation"]["source"].startswith("Dixon-Coles")

    jackpot = modeled.sql("SELECT * FROM jackpots WHERE jackpot_id = ?", [SAMPLE_ID]).iloc[0]
    assert jackpot["status"] == "finalised" and jackpot["n_fixtures"] == 15
    assert jackpot["card_sha256"] == hashlib.sha256(SAMPLE_CARD.read_bytes()).hexdigest() == card.sha256
    metadata = latest_metadata(modeled, "jackpot_predictions", SAMPLE_ID)
    if metadata["status"] == "finalised":  # this test finalised the sample
        assert jackpot["run_id"] == result.run_id and metadata["rows_written"] == 105
    else:  # another test did, earlier in the session: this run was the unchanged no-op
        assert metadata["status"] == "unchanged" and metadata["finalised_run_id"] == jackpot["run_id"]
    assert set(json.loads(jackpot["model_versions"])) == {
        "D1|2324@2024-05-13", "E0|2324@2024-05-13", "F1|2324@2024-05-13", "I1|2324@2024-05-20", "SP1|2324@2024-05-20"
    }
    assert set(json.loads(jackpot["calibration_versions"])) == {f"{league}|2324" for league in ("D1", "E0", "F1", "I1", "SP1")}
    assert "| 6 | Manchester City v West Ham United | E0 |" in metadata["set_b"]

    # exports: both files, parsed back
    exported = json.loads((modeled.settings.exports_dir / f"{SAMPLE_ID}.json").read_text())
    table = pd.read_csv(modeled.settings.exports_dir / f"{SAMPLE_ID}.csv")
    assert len(table) == 105 and list(table["set_id"][:7]) == SETS
    assert exported["jackpot"]["card_sha256"] == card.sha256
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


def test_a_finalised_card_cannot_change_and_an_unchanged_rerun_is_a_no_op(modeled):
    modeled.finalise_sample()
    card_file = modeled.cards / SAMPLE_CARD.name
    original = card_file.read_bytes()
    stored = table_bytes(modeled, SAMPLE_ID)
    export = (modeled.settings.exports_dir / f"{SAMPLE_ID}.json").read_bytes()

    again = modeled.predict(SAMPLE_ID)
    assert again.success
    metadata = latest_metadata(modeled, "jackpot_predictions", SAMPLE_ID)
    assert metadata["status"] == "unchanged" and metadata["rows_written"] == 0
    assert "nothing written" in metadata["note"]
    assert table_bytes(modeled, SAMPLE_ID) == stored
    assert (modeled.settings.exports_dir / f"{SAMPLE_ID}.json").read_bytes() == export  # deterministic export

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
            message = step_failure_message(refused)
            assert f"jackpot '{SAMPLE_ID}' was finalised in run" in message
            assert f"now has sha256 {hashlib.sha256(card_file.read_bytes()).hexdigest()}" in message
            assert change in message
            assert "save the card under a new jackpot_id" in message
            assert table_bytes(modeled, SAMPLE_ID) == stored
    finally:
        card_file.write_bytes(original)
    assert modeled.predict(SAMPLE_ID).success
    assert table_bytes(modeled, SAMPLE_ID) == stored


def test_a_newer_model_is_refused_for_a_finalised_card(modeled, tmp_path):
    """A snapshot dated between the finalised one and the kick-off (new data arrived): another model."""
    import duckdb

    modeled.finalise_sample()
    stored = table_bytes(modeled, SAMPLE_ID)
    with duckdb.connect(str(modeled.settings.warehouse_path)) as connection:
        connection.execute(
            """INSERT INTO team_strength_snapshots SELECT * REPLACE (TIMESTAMP '2024-05-17' AS as_of_date,
               'test-newer-model' AS model_version) FROM team_strength_snapshots
               WHERE league = 'D1' AND season = '2324' AND as_of_date = TIMESTAMP '2024-05-13'"""
        )
    try:
        refused = modeled.predict(SAMPLE_ID)
        message = step_failure_message(refused)
        assert not refused.success
        assert f"jackpot '{SAMPLE_ID}' was finalised in run" in message and "with other model versions" in message
        assert "model D1|2324@2024-05-17: (not used) -> test-newer-model" in message
        assert "model D1|2324@2024-05-13: " in message
        assert "new jackpot_id" in message
        assert table_bytes(modeled, SAMPLE_ID) == stored
    finally:
        with duckdb.connect(str(modeled.settings.warehouse_path)) as connection:
            connection.execute("DELETE FROM team_strength_snapshots WHERE model_version = 'test-newer-model'")


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
    (modeled.cards / "fallbacks.json").write_text(json.dumps(FALLBACK_CARD))
    try:
        assert modeled.predict("fallbacks").success
    finally:
        (modeled.cards / "fallbacks.json").unlink()
    rows = modeled.sql("SELECT * FROM jackpot_predictions WHERE jackpot_id = 'fallbacks' ORDER BY position, set_id")
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
    jackpot = modeled.sql("SELECT model_versions FROM jackpots WHERE jackpot_id = 'fallbacks'")
    assert set(json.loads(jackpot["model_versions"][0])) == {"E0|2324@2024-05-13"}
    metadata = latest_metadata(modeled, "jackpot_predictions", "fallbacks")
    assert metadata["status"] == "finalised" and metadata["rows_written"] == 35 and metadata["critical_fixtures"] == 4
    assert "Nowhere Rovers' not resolved" in metadata["warning_list"]


def test_predict_cards_finalises_new_cards_and_refreshes_finalised_ones(modeled):
    from jackpot_pipeline.defs.jackpots import predict_cards

    modeled.finalise_sample()
    stored = table_bytes(modeled, SAMPLE_ID)
    new_card = modeled.cards / "midweek.csv"
    new_card.write_text(
        "jackpot_id,name,operator,position,home_team,away_team,league,kickoff,odds_home,odds_draw,odds_away\n"
        "midweek,Midweek,SportPesa,1,Arsenal,Everton,E0,19/05/2024 16:00,1.18,8,12\n"
        "midweek,Midweek,SportPesa,2,Bayern Munich,Hoffenheim,D1,18/05/2024 14:30,,,\n"
    )
    broken = modeled.cards / "broken.json"
    broken.write_text('{"jackpot_id": "broken", "name": "x", "fixtures": []}')
    logged: list[str] = []
    try:
        outcome = predict_cards(modeled.defs, modeled.settings, modeled.instance, log=logged.append)
    finally:
        new_card.unlink()
        broken.unlink()
    assert outcome.finalised == ["midweek"] and outcome.refreshed == [SAMPLE_ID] and outcome.failed == {}
    assert list(outcome.skipped) == [str(broken)]
    assert "jackpots: 1 finalised, 1 refreshed, 1 card file(s) skipped, 0 failed" in logged[-1]
    assert table_bytes(modeled, SAMPLE_ID) == stored
    midweek = modeled.sql("SELECT position, set_id, mode, flags FROM jackpot_predictions WHERE jackpot_id = 'midweek'")
    assert len(midweek) == 14 and set(midweek["mode"]) == {"model"}
    # fixture 2 has no odds: B-G fall back to the model, flagged, never silently
    assert midweek[(midweek["position"] == 2) & (midweek["set_id"] == "B")]["flags"].str.contains("no_market_odds").all()
    assert (modeled.settings.exports_dir / "midweek.json").is_file()
