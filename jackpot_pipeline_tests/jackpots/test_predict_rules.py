"""The prediction rules of the jackpot core on a small synthetic snapshot (no Dagster, no warehouse)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.jackpots.predict import (
    Snapshot,
    confidence_label,
    entropy_bits,
    predict_card,
    season_of_kickoff,
)
from jackpot_pipeline.jackpots.cards import parse_card, resolve_card
from jackpot_pipeline.sources.teams import TeamResolver, build_team_registry

TEAMS = ["Arsenal", "Chelsea", "Everton", "Liverpool"]


@pytest.mark.parametrize(("league", "kickoff", "season"), [
    ("E0", dt.datetime(2024, 6, 30, 15), "2324"),
    ("E0", dt.datetime(2024, 7, 1, 15), "2425"),
    ("SP1", dt.datetime(2025, 1, 5, 20), "2425"),
    ("ARG", dt.datetime(2024, 3, 1, 20), "2024"),
])
def test_season_of_kickoff(league, kickoff, season):
    assert season_of_kickoff(league, kickoff) == season


@pytest.mark.parametrize(("probs", "label"), [
    ((0.6, 0.2, 0.2), "high"), ((0.5999, 0.2, 0.2001), "medium"), ((0.45, 0.3, 0.25), "medium"),
    ((0.44, 0.3, 0.26), "low"),
])
def test_confidence_thresholds(probs, label):
    assert confidence_label(probs) == label


def test_entropy_in_bits():
    assert entropy_bits((1 / 3,) * 3) == pytest.approx(math.log2(3))
    assert entropy_bits((1.0, 0.0, 0.0)) == 0.0


def snapshot(as_of: dt.date) -> Snapshot:
    rows = pd.DataFrame({
        "team": TEAMS, "attack": [0.3, 0.1, -0.3, -0.1], "defence": [0.2, 0.1, -0.2, -0.1],
        "home_advantage": 0.25, "intercept": 0.1, "rho": -0.05, "xi": 0.0018, "shrinkage": 5.0,
        "matches_used": [10, 10, 10, 10], "model_version": "v1",
    })
    return Snapshot("E0", "2324", as_of, "v1", rows)


def predict(fixtures: str, *, as_of=dt.date(2024, 5, 13), calibration=None):
    text = ("jackpot_id,name,operator,home_team,away_team,league,kickoff,odds_home,odds_draw,odds_away\n" + fixtures)
    card = parse_card(text.encode(), Path("cards/test.csv"))
    matches = pd.DataFrame({"league": "E0", "season": "2324", "home_team": TEAMS, "away_team": TEAMS[1:] + TEAMS[:1]})
    resolved = resolve_card(card, TeamResolver(build_team_registry(matches)))
    return predict_card(
        card, resolved,
        snapshot_for=lambda league, kickoff: snapshot(as_of) if pd.Timestamp(as_of) < kickoff else None,
        calibration_for=lambda league, season: calibration,
        base_rates_for=lambda league, kickoff: (np.array([0.5, 0.25, 0.25]), "test base rates"),
    )


def test_missing_calibration_and_a_stale_snapshot_are_warned_about():
    prediction = predict("t,T,,Arsenal,Everton,E0,2024-05-30 15:00,1.5,4,6\n")
    (fixture,) = prediction.fixtures
    assert fixture.mode == "model"
    assert any("no calibration_curves row for E0 season 2324" in w for w in fixture.warnings)
    assert any("17 days before the kick-off" in w for w in fixture.warnings)
    assert "uncalibrated" in fixture.sets["B"].flags and "no_stacked_pool" in fixture.sets["G"].flags
    assert prediction.calibration_versions == {"E0|2324": "none"}
    assert prediction.model_versions == {"E0|2324@2024-05-13": "v1"}
    rows = prediction.rows()
    assert ((rows[["prob_home", "prob_draw", "prob_away"]].sum(axis=1) - 1).abs() < 1e-9).all()
    assert prediction.content_sha256() == predict("t,T,,Arsenal,Everton,E0,2024-05-30 15:00,1.5,4,6\n").content_sha256()


def test_odds_that_cannot_be_devigged_are_ignored_loudly():
    (fixture,) = predict("t,T,,Arsenal,Everton,E0,2024-05-19 15:00,3.5,3.5,3.5\n").fixtures
    assert fixture.market is None and fixture.odds is None and fixture.mode == "model"
    assert any("cannot be de-vigged" in w for w in fixture.warnings)
    assert "no_market_odds" in fixture.sets["B"].flags


def test_two_names_for_one_team_and_no_snapshot_fall_back():
    prediction = predict(
        "t,T,,Arsenal,Arsenal FC,E0,2024-05-19 15:00,,,\n"  # both sides resolve to Arsenal: priced with priors
        "t,T,,Chelsea,Everton,E0,2024-05-01 15:00,2,3.5,4\n"  # kick-off before the only snapshot: market only
    )
    same, early = prediction.fixtures
    assert same.mode == "league_prior" and same.snapshot is not None
    assert any("both resolve to Arsenal" in w for w in same.warnings)
    assert same.lambdas[0] == pytest.approx(math.exp(0.1 + 0.25))  # unseen-team prior on both sides
    assert early.mode == "market_only" and early.snapshot is None
    assert any("no strength snapshot of E0 dated before the kick-off 2024-05-01 15:00" in w for w in early.warnings)
    assert np.allclose(early.sets["C"].probs, (1 / np.array([2, 3.5, 4])) / (1 / np.array([2, 3.5, 4])).sum())
    assert prediction.model_versions == {"E0|2324@2024-05-13": "v1"}
