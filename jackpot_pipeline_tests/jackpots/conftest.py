"""A small real warehouse for the core tests of finalisation, exports and scoring (no Dagster).

E0 2022/23 and 2023/24 from the shared files, parsed by the project's own code, the team registry, the
walk-forward snapshots of both seasons and the 2023/24 calibration map are built once per session into a
base folder; every test gets its own copy of it, so a test that rewrites or deletes files affects no other.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from jackpot_pipeline.jackpots.cards import JackpotCard, load_card
from jackpot_pipeline.sources.teams import build_team_registry
from jackpot_pipeline.steps.modeling import calibration_step, save, walk_forward_step
from jackpot_pipeline.warehouse.store import Warehouse
from jackpot_pipeline_tests.jackpots import read_canonical_matches

SEASONS = ("2223", "2324")
# The last matchday of the 2023/24 Premier League, Bet365 odds from the shared file (Crystal Palace v Aston
# Villa without odds); the results were H A H H.
FINAL_DAY_CARD = {
    "jackpot_id": "final_day", "name": "Final day", "operator": "SportPesa", "owner": "analyst", "fixtures": [
        {"home": "Arsenal", "away": "Everton", "league": "E0", "kickoff": "2024-05-19T16:00:00+01:00",
         "odds": {"home": 1.18, "draw": 8.0, "away": 12.0}},
        {"home": "Brighton & Hove Albion", "away": "Manchester United", "league": "E0",
         "kickoff": "2024-05-19T16:00:00+01:00", "odds": {"home": 2.15, "draw": 4.0, "away": 2.9}},
        {"home": "Crystal Palace", "away": "Aston Villa", "kickoff": "2024-05-19T16:00:00+01:00"},
        {"home": "Manchester City", "away": "West Ham United", "league": "E0", "kickoff": "2024-05-19T16:00:00+01:00",
         "odds": {"home": 1.08, "draw": 12.0, "away": 21.0}},
    ],
}
FINAL_DAY_RESULTS = ["H", "A", "H", "H"]


@pytest.fixture(scope="session")
def base_warehouse(tmp_path_factory, shared_data) -> Path:
    root = tmp_path_factory.mktemp("core_warehouse") / "warehouse"
    store = Warehouse(root)
    matches = read_canonical_matches(shared_data, [f"mmz4281/{season}/E0.csv" for season in SEASONS])
    for season in SEASONS:
        store.write("canonical_matches", matches[matches["season"] == season].reset_index(drop=True), f"E0|{season}")
        save(store, f"E0|{season}", walk_forward_step(matches, "E0", season))
    store.write("teams", build_team_registry(matches))
    history = store.query("SELECT * FROM uncalibrated_predictions ORDER BY match_date, match_id")
    save(store, "E0|2324", calibration_step(history, "E0", "2324"))
    return root


@pytest.fixture
def store(tmp_path, base_warehouse) -> Warehouse:
    """This test's copy of the base warehouse."""
    root = tmp_path / "warehouse"
    shutil.copytree(base_warehouse, root)
    return Warehouse(root)


def write_card(folder: Path, content: dict, name: str | None = None) -> JackpotCard:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{content['jackpot_id']}.json")
    path.write_text(json.dumps(content, indent=2))
    return load_card(path)


@pytest.fixture
def final_day(tmp_path) -> JackpotCard:
    return write_card(tmp_path / "cards", FINAL_DAY_CARD)


def stored_frames(store: Warehouse, jackpot_id: str) -> dict[str, pd.DataFrame]:
    return {table: store.read(table, jackpot_id) for table in ("jackpots", "jackpot_predictions")}
