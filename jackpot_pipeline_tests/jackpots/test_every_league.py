"""Every league of the catalogue, including those without odds or without data, goes through the
model, the calibration, validation and jackpot cards: a league without odds is modelled without a
market, and a card fixture in a league with too little data falls back, flagged."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from jackpot_pipeline.jackpots.cards import parse_card, resolve_card
from jackpot_pipeline.jackpots.predict import Snapshot, predict_card
from jackpot_pipeline.model import validation
from jackpot_pipeline.model.season_calibration import fit_season_calibration, match_prediction_rows
from jackpot_pipeline.model.walk_forward import walk_forward
from jackpot_pipeline.sources.football_data import canonicalise, parse_source, partition_rows
from jackpot_pipeline.sources.leagues import ALL_LEAGUES, season_window
from jackpot_pipeline.sources.teams import TeamResolver, build_team_registry
from jackpot_pipeline_tests.conftest import SHARED_FOOTBALL_DATA

# three real E0 seasons, re-dated to the 1990s and cut to the 1993/94 columns: no odds at all
NINETIES = {"9394": ("1213", {"12": "93", "13": "94"}), "9495": ("1314", {"13": "94", "14": "95"}),
            "9596": ("1415", {"14": "95", "15": "96"})}
COLUMNS = ("Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR")


@cache
def nineties_matches() -> pd.DataFrame:
    frames = []
    for season, (source_season, years) in NINETIES.items():
        lines = (SHARED_FOOTBALL_DATA / f"mmz4281/{source_season}/E0.csv").read_bytes().decode().splitlines()
        header = lines[0].split(",")
        keep = [header.index(name) for name in COLUMNS]
        rows = [list(COLUMNS) + [""] * 21]
        for line in lines[1:]:
            fields = line.split(",")
            if any(fields):
                day, month, year = fields[1].split("/")
                fields[1] = f"{day}/{month}/{years[year]}"
                rows.append([fields[i] for i in keep])
        relpath = f"mmz4281/{season}/E0.csv"
        parsed = parse_source(("\r\n".join(",".join(r) for r in rows) + "\r\n").encode(), relpath)
        (partition,) = partition_rows(parsed, "E0", season).values()
        frames.append(canonicalise(parsed, partition, snapshot_date=dt.date(2026, 1, 1)).canonical)
    return pd.concat(frames, ignore_index=True)


def test_a_league_without_odds_is_modelled_calibrated_and_validated():
    matches = nineties_matches()
    assert matches["odds_source"].isna().all() and matches["closing_odds_source"].isna().all()
    wide = {season: walk_forward(matches, season) for season in NINETIES}
    history = pd.concat([result.predictions for result in wide.values()], ignore_index=True)
    assert wide["9596"].fits > 30 and len(wide["9596"].predictions) == 380
    calibration = fit_season_calibration(history, "E0", "9596", season_window("E0", "9596").first_day)
    assert calibration.method == "identity" and "no_calibration_history" in calibration.flags
    rows = match_prediction_rows(wide["9596"].predictions, calibration)
    model_sets = rows[rows["set_id"].isin(list("ABCDEFG"))]
    probs = model_sets[["prob_home", "prob_draw", "prob_away"]].to_numpy()
    assert not np.isnan(probs).any() and np.allclose(probs.sum(axis=1), 1.0)
    assert rows.loc[rows["set_id"].str.startswith("market"), "prob_home"].isna().all()
    metrics = validation.evaluate_sets(rows).set_index("set_id")
    assert metrics.loc["A", "n"] == 380 and metrics.loc["market_pre", "n"] == 0
    assert 0.15 < metrics.loc["A", "rps"] < 0.25
    health = validation.assess_sets(validation.evaluate_sets(rows)).set_index("set_id")
    assert "only 0 matches paired with market_pre" in health.loc["A", "health_reasons"]


def test_cards_name_every_league_and_fall_back_where_there_is_no_model(tmp_path):
    matches = nineties_matches()
    result = walk_forward(matches, "9596")
    last = result.snapshots[result.snapshots["as_of_date"] == result.snapshots["as_of_date"].max()]
    e0_snapshot = Snapshot("E0", "9596", pd.Timestamp(last["as_of_date"].iloc[0]).date(),
                           str(last["model_version"].iloc[0]), last.reset_index(drop=True))
    codes = list(ALL_LEAGUES)
    cards = []
    for part, chunk in enumerate((codes[:19], codes[19:])):
        fixtures = [
            {"home": "Arsenal" if code == "E0" else f"Home {code}", "away": "Chelsea" if code == "E0" else f"Away {code}",
             "league": code, "kickoff": "1996-05-10T15:00",
             "odds": {"home": 2.0, "draw": 3.4, "away": 3.9} if position % 2 else None}
            for position, code in enumerate(chunk)
        ]
        cards.append(parse_card(json.dumps({"jackpot_id": f"every_{part}", "name": "Every league",
                                            "fixtures": fixtures}).encode(), Path(f"every_{part}.json")))
    assert sorted(f.league for card in cards for f in card.fixtures) == sorted(codes)
    resolver = TeamResolver(build_team_registry(matches))
    modes = {}
    for card in cards:
        prediction = predict_card(
            card, resolve_card(card, resolver),
            snapshot_for=lambda league, kickoff: e0_snapshot if league == "E0" else None,
            calibration_for=lambda league, season: None,
            base_rates_for=lambda league, kickoff: (np.array([0.46, 0.27, 0.27]), "base rates"),
        )
        for fixture in prediction.fixtures:
            modes[fixture.league] = fixture
            rows = pd.DataFrame([s.probs for s in fixture.sets.values()])
            assert np.allclose(rows.sum(axis=1), 1.0)
    assert modes["E0"].mode == "model" and modes["E0"].snapshot is e0_snapshot
    others = [fixture for league, fixture in modes.items() if league != "E0"]
    assert {f.mode for f in others if f.odds is not None} == {"market_only"}
    assert {f.mode for f in others if f.odds is None} == {"league_prior"}
    for fixture in others:  # flagged: a critical warning and the fallback on every set
        assert any(w.startswith("critical: fallback") for w in fixture.warnings)
        assert all(fixture.mode in s.flags for s in fixture.sets.values())
