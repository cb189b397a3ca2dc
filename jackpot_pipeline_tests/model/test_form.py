"""Team form and league baselines on the real files: values recomputed by brute force, and no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.model.form import LEAGUE_BASELINE_COLUMNS, TEAM_FORM_COLUMNS, league_baselines, team_form_features
from jackpot_pipeline_tests.model.test_walk_forward import canonical


@pytest.fixture(scope="module")
def e0() -> pd.DataFrame:
    matches = canonical("E0")
    return matches[matches["season"].isin(["2223", "2324"])].reset_index(drop=True)


def _brute_force(matches: pd.DataFrame, team: str, day: pd.Timestamp, window: int, venue: str | None = None) -> dict:
    played = matches[(matches["status"] == "played") & (pd.to_datetime(matches["match_date"]) < day)]
    rows = []
    for match in played.sort_values(["match_date", "match_id"]).itertuples():
        if match.home_team == team and venue in (None, "home"):
            rows.append((match.home_goals, match.away_goals, match.home_shots_on_target))
        elif match.away_team == team and venue in (None, "away"):
            rows.append((match.away_goals, match.home_goals, match.away_shots_on_target))
    last = rows[-window:]
    points = [3 if f > a else 1 if f == a else 0 for f, a, _ in last]
    return {"points": np.mean(points), "goals_for": np.mean([f for f, _, _ in last]),
            "goals_against": np.mean([a for _, a, _ in last]), "sot_for": np.mean([s for _, _, s in last]), "n": len(rows)}


def test_form_matches_a_brute_force_count(e0):
    form = team_form_features(e0, "E0", "2324")
    assert list(form.columns) == TEAM_FORM_COLUMNS
    assert len(form) == 2 * (e0["season"] == "2324").sum() == 760
    # Arsenal on the last day of 2023/24 and Luton (promoted: no E0 history before its first match)
    last_day = pd.Timestamp("2024-05-19")
    arsenal = form[(form["team"] == "Arsenal") & (form["match_date"] == last_day)].iloc[0]
    for window in (5, 10):
        expected = _brute_force(e0, "Arsenal", last_day, window)
        assert arsenal[f"last{window}_points"] == pytest.approx(expected["points"])
        assert arsenal[f"last{window}_goals_for"] == pytest.approx(expected["goals_for"])
        assert arsenal[f"last{window}_goals_against"] == pytest.approx(expected["goals_against"])
        assert arsenal[f"last{window}_sot_for"] == pytest.approx(expected["sot_for"])
    home = _brute_force(e0, "Arsenal", last_day, 5, "home")
    assert arsenal["home_last5_points"] == pytest.approx(home["points"])
    assert arsenal["matches_before"] == 38 + 37  # all of 2022/23 and 37 of 2023/24
    assert arsenal["rest_days"] == 7  # Manchester United away on 12 May 2024
    luton_first = form[form["team"] == "Luton"].iloc[0]
    assert luton_first["matches_before"] == 0 and np.isnan(luton_first["last5_points"]) and np.isnan(luton_first["rest_days"])


def test_league_baselines_match_the_season_so_far(e0):
    baselines = league_baselines(e0, "E0", "2324")
    assert list(baselines.columns) == LEAGUE_BASELINE_COLUMNS
    season = e0[e0["season"] == "2324"]
    assert len(baselines) == season["match_date"].nunique()
    first = baselines.iloc[0]
    assert first["matches_before"] == 0 and np.isnan(first["draw_rate"])
    last = baselines.iloc[-1]
    before = season[pd.to_datetime(season["match_date"]) < last["as_of_date"]]
    assert last["matches_before"] == len(before) == 370
    assert last["draw_rate"] == pytest.approx((before["result"] == "D").mean())
    assert last["home_win_rate"] == pytest.approx((before["result"] == "H").mean())
    assert last["goals_per_match"] == pytest.approx((before["home_goals"] + before["away_goals"]).mean())
    assert last["home_advantage"] == pytest.approx((before["home_goals"] - before["away_goals"]).mean())


def test_changing_one_result_leaves_every_earlier_row_unchanged(e0):
    target = e0[(e0["season"] == "2324") & (e0["status"] == "played")].iloc[150]
    changed_day = pd.Timestamp(target["match_date"])
    altered = e0.copy()
    index = altered.index[altered["match_id"] == target["match_id"]][0]
    altered.loc[index, ["home_goals", "away_goals", "result", "home_shots_on_target"]] = [
        target["home_goals"] + 3, target["away_goals"], "H", target["home_shots_on_target"] + 5]
    for build, date_column in ((team_form_features, "match_date"), (league_baselines, "as_of_date")):
        before, after = build(e0, "E0", "2324"), build(altered, "E0", "2324")
        upto = pd.to_datetime(before[date_column]) <= changed_day
        # bit for bit: rows dated before the change and on its day (same-day matches never count)
        pd.testing.assert_frame_equal(before[upto].reset_index(drop=True),
                                      after[pd.to_datetime(after[date_column]) <= changed_day].reset_index(drop=True),
                                      check_exact=True)
        later = ~upto
        numbers = before.select_dtypes("number").columns
        assert not before.loc[later, numbers].equals(after.loc[later, numbers])
