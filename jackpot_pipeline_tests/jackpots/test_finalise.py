"""Finalising a card on a real warehouse (E0 2022/23-2023/24): written once, re-running unchanged writes
nothing, a changed card or model is refused naming what changed, a half-finished finalisation is completed
from the stored row, and the stored card is what was finalised whatever the file says now."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json

import pandas as pd
import pytest

from jackpot_pipeline.jackpots.cards import load_card, resolve_card
from jackpot_pipeline.jackpots.finalise import (
    FinalisedJackpotError,
    WarehouseLookups,
    card_changes,
    check_card_unchanged,
    check_model_unchanged,
    finalise_card,
    read_finalised,
    read_jackpot,
    stored_card,
    stored_resolution,
)
from jackpot_pipeline.jackpots.predict import predict_card, rows_sha256
from jackpot_pipeline.sources.teams import TeamResolver
from jackpot_pipeline.warehouse.store import Warehouse
from jackpot_pipeline_tests.jackpots.conftest import FINAL_DAY_CARD, stored_frames, write_card

NOW = dt.datetime(2024, 5, 18, 9, 30, tzinfo=dt.UTC)
SETS = ["A", "B", "C", "D", "E", "F", "G"]


def finalise(store, card, run_id="run-1", now=NOW):
    return finalise_card(store, card, run_id=run_id, now=now, code_version="1")


def edited(**changes) -> dict:
    card = copy.deepcopy(FINAL_DAY_CARD)
    for key, value in changes.items():
        if key.startswith("fixture"):
            position, field = key[len("fixture"):].split("_", 1)
            card["fixtures"][int(position) - 1][field] = value
        else:
            card[key] = value
    return card


def test_a_card_is_finalised_once_with_its_versions(store, final_day):
    done = finalise(store, final_day)
    assert done.status == "finalised" and len(done.rows) == 4 * 7
    jackpot = read_jackpot(store, "final_day")
    assert (jackpot["card_sha256"], jackpot["run_id"], jackpot["status"]) == (final_day.sha256, "run-1", "finalised")
    assert jackpot["finalised_at"] == pd.Timestamp("2024-05-18 09:30:00")
    assert jackpot["card_json"] == final_day.to_dict() and jackpot["owner"] == "analyst"
    snapshot = store.query("SELECT max(as_of_date) d, any_value(model_version) v FROM team_strength_snapshots "
                           "WHERE league = 'E0' AND as_of_date = (SELECT max(as_of_date) FROM team_strength_snapshots)")
    assert jackpot["model_versions"] == {f"E0|2324@{snapshot['d'][0]:%Y-%m-%d}": snapshot["v"][0]}
    (calibration,) = store.read("calibration_curves", "E0|2324")["calibration_version"]
    assert jackpot["calibration_versions"] == {"E0|2324": calibration}

    stored, predictions = read_finalised(store, "final_day")
    assert predictions.groupby("position")["set_id"].apply(list).tolist() == [SETS] * 4
    assert set(predictions["run_id"]) == {"run-1"} and stored["content_sha256"] == rows_sha256(done.rows.drop(
        columns=["run_id", "finalised_at"]))
    assert done.data_version == hashlib.sha256(f"{final_day.sha256}|{stored['content_sha256']}".encode()).hexdigest()[:24]
    # the league of fixture 3 was inferred from the teams; its missing odds are flagged on the blended sets
    fixture_3 = predictions[predictions["position"] == 3].set_index("set_id")
    assert fixture_3.loc["A", "league"] == "E0" and fixture_3.loc["A", "mode"] == "model"
    assert "no_market_odds" in fixture_3.loc["B", "flags"]
    assert done.metadata["rows_written"] == 28 and done.metadata["modes"] == {"model": 4}
    assert "| 4 | Manchester City v West Ham United | E0 |" in done.metadata["set_b"]


def test_an_unchanged_card_finalised_again_writes_nothing(store, final_day):
    first = finalise(store, final_day)
    paths = [store.path(table, "final_day") for table in ("jackpots", "jackpot_predictions")]
    before = [(path.read_bytes(), path.stat().st_mtime_ns) for path in paths]
    again = finalise(store, load_card(final_day.source_path), run_id="run-2", now=NOW + dt.timedelta(days=1))
    assert again.status == "unchanged" and again.data_version == first.data_version
    assert again.metadata["rows_written"] == 0 and again.metadata["finalised_run_id"] == "run-1"
    assert "nothing written" in again.metadata["note"] and "finalised in run run-1 at 2024-05-18 09:30:00" in again.metadata["note"]
    assert [(path.read_bytes(), path.stat().st_mtime_ns) for path in paths] == before
    pd.testing.assert_frame_equal(again.rows, store.read("jackpot_predictions", "final_day"))


@pytest.mark.parametrize(("changes", "expected"), [
    ({"name": "Final day!"}, "name: 'Final day' -> 'Final day!'"),
    ({"owner": None}, "owner: 'analyst' -> None"),
    ({"fixture2_home": "Brighton"}, "fixture 2 home: 'Brighton & Hove Albion' -> 'Brighton'"),
    ({"fixture1_odds": {"home": 1.2, "draw": 8.0, "away": 12.0}}, "fixture 1 odds: '1.18/8/12' -> '1.2/8/12'"),
    ({"fixture3_odds": {"home": 1.85, "draw": 4.33, "away": 3.6}}, "fixture 3 odds: 'none' -> '1.85/4.33/3.6'"),
    ({"fixture4_kickoff": "2024-05-19T17:00:00+01:00"},
     "fixture 4 kickoff: '2024-05-19T16:00:00+01:00' -> '2024-05-19T17:00:00+01:00'"),
])
def test_a_changed_card_is_refused_naming_the_change(store, final_day, tmp_path, changes, expected):
    finalise(store, final_day)
    before = {table: path.read_bytes() for table in ("jackpots", "jackpot_predictions")
              if (path := store.path(table, "final_day")).exists()}
    changed = write_card(tmp_path / "cards", edited(**changes))
    with pytest.raises(FinalisedJackpotError) as refused:
        finalise(store, changed, run_id="run-2")
    message = str(refused.value)
    assert message.startswith("jackpot 'final_day' was finalised in run run-1 at 2024-05-18 09:30:00 UTC from ")
    assert f"(sha256 {final_day.sha256}); the card file {changed.source_path} now has sha256 {changed.sha256}" in message
    assert f"(changed: {expected})" in message
    assert message.endswith("save the card under a new jackpot_id (the stored predictions were left untouched).")
    assert {table: store.path(table, "final_day").read_bytes() for table in before} == before


def test_card_changes_lists_added_removed_and_formatting_only_changes(final_day, tmp_path):
    stored = final_day.to_dict()
    shorter = edited()
    shorter["fixtures"] = shorter["fixtures"][:3]
    assert card_changes(stored, write_card(tmp_path / "a", shorter)) == ["fixture 4 removed"]
    longer = edited()
    longer["fixtures"].append({"home": "Liverpool", "away": "Wolves", "league": "E0", "kickoff": "2024-05-19T16:00"})
    assert card_changes(stored, write_card(tmp_path / "b", longer)) == ["fixture 5 added (Liverpool v Wolves)"]

    reformatted = final_day.source_path.with_name("reformatted.json")
    reformatted.write_text(json.dumps(FINAL_DAY_CARD))  # same card, other bytes
    same = load_card(reformatted)
    assert same.sha256 != final_day.sha256 and card_changes(stored, same) == []
    jackpot = {"jackpot_id": "final_day", "run_id": "r", "finalised_at": pd.Timestamp("2024-05-18"),
               "card_path": str(final_day.source_path), "card_sha256": final_day.sha256, "card_json": stored}
    with pytest.raises(FinalisedJackpotError, match=r"changed: no card field differs, only the file's bytes \(formatting\)"):
        check_card_unchanged(jackpot, same)
    check_card_unchanged(jackpot, final_day)  # the same bytes pass


def test_a_newer_model_is_refused_and_the_stored_rows_kept(store, final_day):
    finalise(store, final_day)
    stored = stored_frames(store, "final_day")
    snapshots = store.read("team_strength_snapshots", "E0|2324")
    latest = snapshots["as_of_date"].max()
    newer = snapshots[snapshots["as_of_date"] == latest].assign(
        as_of_date=pd.Timestamp("2024-05-18"), model_version="newer-model")
    store.write("team_strength_snapshots", pd.concat([snapshots, newer], ignore_index=True), "E0|2324")
    with pytest.raises(FinalisedJackpotError) as refused:
        finalise(store, final_day, run_id="run-2")
    message = str(refused.value)
    assert "with other model versions; predicting it now would change them" in message
    assert "model E0|2324@2024-05-18: (not used) -> newer-model" in message
    assert f"model E0|2324@{latest:%Y-%m-%d}: " in message and "new jackpot_id" in message
    for table, frame in stored_frames(store, "final_day").items():
        pd.testing.assert_frame_equal(frame, stored[table])


def test_other_predictions_from_the_same_versions_are_refused_with_the_differences(store, final_day):
    done = finalise(store, final_day)
    stored, rows = read_finalised(store, "final_day")
    resolved_rows = rows.copy()
    resolved_rows.loc[(resolved_rows["position"] == 2) & (resolved_rows["set_id"] == "A"), "home_team"] = "Brentford"
    lookups = WarehouseLookups(lambda sql, parameters: store.query(sql, parameters))
    prediction = predict_card(final_day, resolve_card(final_day, TeamResolver(store.read("teams"))),
                              snapshot_for=lookups.snapshot_for, calibration_for=lookups.calibration_for,
                              base_rates_for=lookups.base_rates_for)
    assert rows_sha256(prediction.rows()) == stored["content_sha256"]
    check_model_unchanged(stored, rows, prediction)  # the same rows again: passes
    with pytest.raises(FinalisedJackpotError) as refused:
        check_model_unchanged({**stored, "content_sha256": "0" * 64}, resolved_rows, prediction)
    assert "the same card and model versions now give different predictions (fixture 2 home team Brentford -> Brighton)" in str(refused.value)
    with pytest.raises(FinalisedJackpotError, match=r"\(the prediction code or its settings changed\)"):
        check_model_unchanged({**stored, "content_sha256": "0" * 64}, rows, prediction)
    assert done.status == "finalised"


def test_a_finalisation_cut_short_is_completed_from_the_stored_row(store, final_day):
    """The jackpots row is written first: a process that died before the prediction rows leaves the claim,
    and the next run restores exactly the rows of the finalising run."""
    finalise(store, final_day)
    rows = store.read("jackpot_predictions", "final_day")
    assert store.remove("jackpot_predictions", "final_day")
    again = finalise(store, final_day, run_id="run-2", now=NOW + dt.timedelta(hours=1))
    assert again.status == "unchanged"
    restored = store.read("jackpot_predictions", "final_day")
    pd.testing.assert_frame_equal(restored, rows)
    assert set(restored["run_id"]) == {"run-1"}


def test_the_stored_card_is_the_finalised_one_whatever_the_file_says(store, final_day):
    finalise(store, final_day)
    final_day.source_path.write_text(json.dumps(edited(name="rewritten")))
    stored, predictions = read_finalised(store, "final_day")
    card = stored_card(stored)
    assert card == final_day
    resolved = stored_resolution(card, predictions)
    assert [(r.home.team, r.away.team, r.league) for r in resolved] == [
        ("Arsenal", "Everton", "E0"), ("Brighton", "Man United", "E0"), ("Crystal Palace", "Aston Villa", "E0"),
        ("Man City", "West Ham", "E0"),
    ]


def test_finalising_needs_the_model_tables_and_reading_needs_a_finalised_card(tmp_path, final_day, store):
    empty = Warehouse(tmp_path / "empty")
    with pytest.raises(LookupError, match="the warehouse has no teams yet: materialise teams after ingestion"):
        finalise(empty, final_day)
    empty.write("teams", store.read("teams"))
    with pytest.raises(LookupError, match="no team_strength_snapshots yet"):
        finalise(empty, final_day)
    assert read_jackpot(store, "final_day") is None
    with pytest.raises(LookupError, match="'final_day' has not been finalised yet: materialise jackpot_predictions first"):
        read_finalised(store, "final_day")
