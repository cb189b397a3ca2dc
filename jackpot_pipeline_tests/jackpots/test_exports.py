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
from jackpot_pipeline.jackpots.exports import export_paths, to_json_bytes, to_jsonable, write_exports
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


def test_to_jsonable_converts_the_projects_types() -> None:
    card = load_card(SAMPLE_CARD)
    analysis = analyse_ticket(np.full((2, 3), 1 / 3), Ticket.from_labels(["1", "X2"]), budget=TicketBudget(max_doubles=1))
    converted = to_jsonable({
        "card": card,
        "analysis": analysis,
        "array": np.array([[0.5, np.nan]]),
        "flag": np.bool_(True),
        "day": dt.date(2024, 5, 19),
        "when": pd.Timestamp("2024-05-19 16:00"),
        "missing": [pd.NA, pd.NaT, None],
        "path": Path("data/exports"),
        "tags": {"b", "a"},
        1: "int key",
        "frame": pd.DataFrame({"x": [1.0, math.nan]}),
    })
    assert json.loads(json.dumps(converted, allow_nan=False)) == converted
    assert converted["card"]["jackpot_id"] == "sample_2324_final"
    assert converted["card"]["fixtures"][0]["kickoff"] == "2024-05-18T14:30:00+01:00"
    assert converted["analysis"]["selections"] == ["1", "X2"] and converted["analysis"]["lines"] == 2
    assert converted["analysis"]["budget"] == {"max_doubles": 1, "max_triples": None, "max_lines": None}
    assert converted["array"] == [[0.5, None]] and converted["flag"] is True
    assert (converted["day"], converted["when"]) == ("2024-05-19", "2024-05-19T16:00:00")
    assert converted["missing"] == [None, None, None] and converted["path"] == "data/exports"
    assert converted["tags"] == ["a", "b"] and converted["1"] == "int key"
    assert converted["frame"] == [{"x": 1.0}, {"x": None}]


def test_unknown_types_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot export a object as JSON"):
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
