"""What a finalised jackpot gives its users, from the stored rows only: the export payload and files with
the ticket analysis, and every set scored on the real results (E0's last matchday of 2023/24)."""

from __future__ import annotations

import datetime as dt
import json
import stat

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.jackpots.export_payload import (
    EXPORT_FORMAT,
    EXPORT_TABLE_COLUMNS,
    export_payload,
    export_table,
    probabilities_by_set,
)
from jackpot_pipeline.jackpots.exports import to_json_bytes
from jackpot_pipeline.jackpots.finalise import finalise_card, read_finalised
from jackpot_pipeline.jackpots.outputs import export_jackpot, score_jackpot
from jackpot_pipeline.jackpots.tickets import TicketBudget
from jackpot_pipeline_tests.jackpots.conftest import FINAL_DAY_RESULTS

SETS = ["A", "B", "C", "D", "E", "F", "G"]
BUDGET = TicketBudget(max_doubles=1, max_triples=1, max_lines=None)
NOW = dt.datetime(2024, 5, 18, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def finalised(store, final_day):
    finalise_card(store, final_day, run_id="run-1", now=NOW, code_version="1")
    return read_finalised(store, "final_day")


def test_the_payload_holds_every_fixture_and_set_from_the_stored_rows(finalised):
    stored, predictions = finalised
    payload = export_payload(stored, predictions, BUDGET)
    assert payload["format"] == EXPORT_FORMAT
    assert payload["jackpot"]["jackpot_id"] == "final_day" and payload["jackpot"]["run_id"] == "run-1"
    assert [f["position"] for f in payload["fixtures"]] == [1, 2, 3, 4]
    first, third = payload["fixtures"][0], payload["fixtures"][2]
    assert (first["home_team_card"], first["home_team"], first["league"], first["mode"]) == ("Arsenal", "Arsenal", "E0", "model")
    assert first["odds"] == {"home": 1.18, "draw": 8.0, "away": 12.0}
    margin = 1 / 1.18 + 1 / 8 + 1 / 12
    assert first["market"] == pytest.approx({"home": 1 / 1.18 / margin, "draw": 1 / 8 / margin, "away": 1 / 12 / margin}, abs=1e-12)
    assert third["odds"] is None and third["market"] is None
    assert first["snapshot"]["model_version"] == predictions["model_version"].iloc[0]
    assert not any(w.startswith("flag: ") for f in payload["fixtures"] for w in f["warnings"])
    for fixture in payload["fixtures"]:
        rows = predictions[predictions["position"] == fixture["position"]].set_index("set_id")
        assert list(fixture["sets"]) == SETS
        for set_id, entry in fixture["sets"].items():
            assert [entry["probabilities"][k] for k in ("home", "draw", "away")] == rows.loc[
                set_id, ["prob_home", "prob_draw", "prob_away"]].tolist()
            assert entry["pick"] == rows.loc[set_id, "pick"]
        assert set(fixture["sets"]["F"]) >= {"edge", "kelly_fraction"} and "edge" not in fixture["sets"]["A"]

    # the ticket analysis is exact: P(all correct) of the most-likely ticket is the product of the top
    # probabilities, and a budget can only raise it
    assert payload["tickets"]["budget"] == BUDGET.to_dict() and payload["tickets"]["bonus_tiers"] == [4, 3, 2]
    by_set = probabilities_by_set(predictions)
    assert list(by_set) == SETS and all(p.shape == (4, 3) for p in by_set.values())
    for set_id, probs in by_set.items():
        tickets = payload["tickets"]["sets"][set_id]
        likely, optimised = tickets["most_likely"], tickets["optimised"]
        assert likely["p_all_correct"] == pytest.approx(np.prod(probs.max(axis=1)), rel=1e-12)
        assert sum(likely["correct_picks_distribution"]) == pytest.approx(1, abs=1e-12)
        assert likely["expected_correct"] == pytest.approx(probs.max(axis=1).sum(), rel=1e-12)
        assert optimised["n_doubles"] <= 1 and optimised["n_triples"] <= 1 and optimised["lines"] <= 6
        assert optimised["p_all_correct"] >= likely["p_all_correct"]
    # a budget of single picks only is the most-likely ticket
    plain = export_payload(stored, predictions, TicketBudget(max_doubles=0, max_triples=0, max_lines=None))
    for tickets in plain["tickets"]["sets"].values():
        assert tickets["optimised"]["selections"] == tickets["most_likely"]["selections"]


def test_the_payload_and_table_are_deterministic(finalised):
    stored, predictions = finalised
    shuffled = predictions.sample(frac=1, random_state=7).reset_index(drop=True)
    assert to_json_bytes(export_payload(stored, shuffled, BUDGET)) == to_json_bytes(export_payload(stored, predictions, BUDGET))
    table = export_table(shuffled)
    assert table.columns.tolist() == EXPORT_TABLE_COLUMNS
    assert table[["position", "set_id"]].values.tolist() == [[p, s] for p in range(1, 5) for s in SETS]
    pd.testing.assert_frame_equal(table, export_table(predictions))
    assert table["snapshot_as_of"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    warnings = predictions.sort_values(["position", "set_id"])["warnings"].map(json.loads).tolist()
    assert table["warnings"].tolist() == [" | ".join(w) for w in warnings]


def test_export_jackpot_writes_readable_files_and_the_same_bytes_again(store, finalised, tmp_path):
    stored, predictions = finalised
    first = export_jackpot(store, "final_day", BUDGET, tmp_path / "exports")
    paths = [tmp_path / "exports" / "final_day.json", tmp_path / "exports" / "final_day.csv"]
    assert [first.metadata["json_path"], first.metadata["csv_path"]] == [str(p) for p in paths]
    assert [stat.S_IMODE(p.stat().st_mode) for p in paths] == [0o644, 0o644]
    contents = [p.read_bytes() for p in paths]
    assert json.loads(contents[0]) == json.loads(to_json_bytes(export_payload(stored, predictions, BUDGET)))
    assert len(pd.read_csv(paths[1])) == 28
    assert first.metadata["tickets"]["B"]["optimised_lines"] <= 6 and "| B |" in first.metadata["ticket_table"]
    again = export_jackpot(store, "final_day", BUDGET, tmp_path / "exports")
    assert again.data_version == first.data_version and [p.read_bytes() for p in paths] == contents
    other = export_jackpot(store, "final_day", TicketBudget(max_doubles=3, max_triples=1, max_lines=None), tmp_path / "exports")
    assert other.data_version != first.data_version
    with pytest.raises(LookupError, match="'nothing' has not been finalised yet"):
        export_jackpot(store, "nothing", BUDGET, tmp_path / "exports")


def test_score_jackpot_finds_the_real_results_and_replaces_its_rows(store, finalised):
    _, predictions = finalised
    first = score_jackpot(store, "final_day", run_id="score-1", now=dt.datetime(2024, 5, 20, tzinfo=dt.UTC))
    results = store.read("jackpot_results", "final_day").sort_values("position")
    assert results["result"].tolist() == FINAL_DAY_RESULTS and set(results["source"]) == {"matches"}
    assert first.metadata["results"] == " ".join(FINAL_DAY_RESULTS) and first.metadata["fixtures_with_result"] == 4
    scores = store.read("jackpot_validation", "final_day").set_index("set_id")
    assert scores.index.tolist() == SETS and (scores["n_scored"] == 4).all() and set(scores["run_id"]) == {"score-1"}
    outcomes = np.array(["HDA".index(r) for r in FINAL_DAY_RESULTS])
    for set_id, probs in probabilities_by_set(predictions).items():
        assert scores.loc[set_id, "correct_picks"] == int((probs.argmax(axis=1) == outcomes).sum())
        assert scores.loc[set_id, "brier"] == pytest.approx(
            np.mean(((probs - np.eye(3)[outcomes]) ** 2).sum(axis=1)), rel=1e-12)
        assert scores.loc[set_id, "log_loss"] == pytest.approx(-np.mean(np.log(probs[np.arange(4), outcomes])), rel=1e-12)

    second = score_jackpot(store, "final_day", run_id="score-2", now=dt.datetime(2024, 5, 21, tzinfo=dt.UTC))
    assert second.data_version == first.data_version  # the same results: the same version
    assert set(store.read("jackpot_validation", "final_day")["run_id"]) == {"score-2"}
    assert len(store.read("jackpot_results", "final_day")) == 4


def test_a_results_file_beside_the_card_wins_over_the_matches(store, finalised, final_day):
    results_file = final_day.source_path.with_name("final_day.results.csv")
    results_file.write_text("position,result\n1,H\n2,D\n")  # fixture 2 as the operator settled it
    scored = score_jackpot(store, "final_day", run_id="score-1", now=NOW)
    results = store.read("jackpot_results", "final_day").sort_values("position")
    assert results["result"].tolist() == ["H", "D", "H", "H"]
    assert results["source"].tolist() == ["results_file", "results_file", "matches", "matches"]
    assert "kept the results file's D over the matches' A" in json.loads(results["notes"].iloc[1])[0]
    assert scored.metadata["result_sources"] == {"results_file": 2, "matches": 2}
    assert scored.metadata["notes"] and scored.metadata["notes"][0].startswith("fixture 2: kept the results file's D")
