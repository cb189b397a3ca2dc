"""Exports: atomic writes, deterministic JSON (sorted keys, NaN -> null), CSV round trip."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.jackpots.cards import load_card
from jackpot_pipeline.jackpots.exports import export_paths, to_json_bytes, write_exports
from jackpot_pipeline.jackpots.tickets import Ticket, TicketBudget, analyse_ticket

SAMPLE_CARD = Path(__file__).resolve().parents[2] / "data" / "jackpots" / "sample_2324_final.json"


def table() -> pd.DataFrame:
    return pd.DataFrame({
        "position": [1, 2],
        "home_team": ["Arsenal", "Brentford"],
        "p_home": [0.61, math.nan],
        "pick": ["1", None],
        "kickoff": pd.to_datetime(["2024-05-19 16:00", "2024-05-19 16:00"]),
    })


def test_write_exports_writes_both_files(tmp_path: Path) -> None:
    payload = {"jackpot_id": "mega", "rps": math.nan, "scores": {"A": 0.2}, "n": np.int64(15)}
    paths = write_exports(tmp_path / "exports", "mega", payload, table())
    assert paths == export_paths(tmp_path / "exports", "mega")
    assert (paths.json.name, paths.csv.name) == ("mega.json", "mega.csv")
    assert json.loads(paths.json.read_text(encoding="utf-8")) == {
        "jackpot_id": "mega", "n": 15, "rps": None, "scores": {"A": 0.2},
    }
    assert paths.csv.read_text(encoding="utf-8") == (
        "position,home_team,p_home,pick,kickoff\n"
        "1,Arsenal,0.61,1,2024-05-19 16:00:00\n"
        "2,Brentford,,,2024-05-19 16:00:00\n"
    )
    assert sorted(p.name for p in paths.json.parent.iterdir()) == ["mega.csv", "mega.json"]  # no temp files left


def test_json_is_deterministic_and_sorted(tmp_path: Path) -> None:
    first = {"b": 1, "a": {"z": [1.5, math.inf], "y": -math.inf}, "c": (1, 2)}
    second = {"c": [1, 2], "a": {"y": -math.inf, "z": [1.5, math.inf]}, "b": 1}
    assert to_json_bytes(first) == to_json_bytes(second)
    text = to_json_bytes(first).decode()
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"') < text.index('"c"')
    assert json.loads(text) == {"a": {"y": None, "z": [1.5, None]}, "b": 1, "c": [1, 2]}
    one = write_exports(tmp_path, "x", first, table()).json.read_bytes()
    two = write_exports(tmp_path, "x", second, table()).json.read_bytes()
    assert one == two


def test_unknown_types_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot write a object as JSON"):
        write_exports(tmp_path, "x", {"bad": object()}, table())
    assert list(tmp_path.iterdir()) == []


def test_exports_replace_the_previous_version(tmp_path: Path) -> None:
    write_exports(tmp_path, "x", {"version": 1}, table())
    paths = write_exports(tmp_path, "x", {"version": 2}, table().head(1))
    assert json.loads(paths.json.read_text()) == {"version": 2}
    assert len(pd.read_csv(paths.csv)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv", "x.json"]


@pytest.mark.parametrize("jackpot_id", ["../escape", "a/b", "", "with space"])
def test_the_jackpot_id_cannot_leave_the_folder(tmp_path: Path, jackpot_id: str) -> None:
    with pytest.raises(ValueError, match="jackpot_id"):
        write_exports(tmp_path / "exports", jackpot_id, {}, table())
    assert not (tmp_path / "exports").exists()
