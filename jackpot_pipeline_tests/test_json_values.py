"""The one JSON conversion: every type the project publishes, the API's lenient flavour, the registry's text."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jackpot_pipeline.api.reads import jsonable
from jackpot_pipeline.jackpots.cards import load_card
from jackpot_pipeline.jackpots.tickets import Ticket, TicketBudget, analyse_ticket
from jackpot_pipeline.json_values import canonical_json, optional_number, to_jsonable

SAMPLE_CARD = Path(__file__).resolve().parents[1] / "data" / "jackpots" / "sample_2324_final.json"


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


def test_numpy_dates_times_and_dataclasses() -> None:
    @dataclasses.dataclass
    class Point:
        x: float
        when: dt.time

    converted = to_jsonable({
        "stamp64": np.datetime64("2024-05-19T16:00"),
        "nat64": np.datetime64("NaT"),
        "point": Point(math.inf, dt.time(15, 30)),
        "series": pd.Series([np.int64(1), None], dtype="Int64"),
        "frozen": frozenset({2, 1}),
        "tuple": (np.float32(0.5), np.int8(-1)),
    })
    assert converted == {
        "stamp64": "2024-05-19T16:00:00", "nat64": None, "point": {"x": None, "when": "15:30:00"},
        "series": [1, None], "frozen": [1, 2], "tuple": [0.5, -1],
    }


def test_unknown_types_raise_unless_a_default_is_given() -> None:
    with pytest.raises(TypeError, match="cannot write a Decimal as JSON: Decimal"):
        to_jsonable({"price": decimal.Decimal("1.5")})
    assert to_jsonable({"price": decimal.Decimal("1.5")}, default=str) == {"price": "1.5"}
    # the API's flavour: a reader always gets an answer, nested values included
    assert jsonable({"rows": [{"id": decimal.Decimal("2"), "at": pd.Timestamp("2024-01-01", tz="UTC")}]}) == {
        "rows": [{"id": "2", "at": "2024-01-01T00:00:00+00:00"}]
    }


def test_canonical_json_keeps_the_registry_text_it_has_always_hashed() -> None:
    # the text the registry's earlier converter produced for this payload: model versions hash it, so it must not move
    payload = {
        "league": "E0", "code": "wf-3", "flag": True,
        "parameters": {"xi": np.float64(0.0019), "warmup": np.int64(38), "rho": None,
                       "grid": [0.5, np.float32(0.25)], "nested": {"a": math.nan, "b": math.inf}},
        "data": {"E0/2324": "sha256:ab", "as_of": pd.Timestamp("2024-05-19"), "day": dt.date(2024, 5, 19)},
    }
    assert canonical_json(payload) == (
        '{"code":"wf-3","data":{"E0/2324":"sha256:ab","as_of":"2024-05-19T00:00:00","day":"2024-05-19"},'
        '"flag":true,"league":"E0","parameters":{"grid":[0.5,0.25],"nested":{"a":null,"b":null},"rho":null,'
        '"warmup":38,"xi":0.0019}}'
    )


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (math.nan, None), (pd.NA, None), (pd.NaT, None), (math.inf, None), (-math.inf, None),
    (np.float64(0.25), 0.25), (3, 3.0), (np.int64(-2), -2.0), ("0.5", 0.5),
])
def test_optional_number(value, expected) -> None:
    result = optional_number(value)
    assert result == expected and (result is None or type(result) is float)


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.floats().map(np.float64), st.integers(-2**62, 2**62).map(np.int64), st.booleans().map(np.bool_),
    st.dates(), st.datetimes(),
)
json_trees = st.recursive(
    json_leaves,
    lambda children: st.one_of(st.lists(children, max_size=4), st.tuples(children, children),
                               st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), children, max_size=4)),
    max_leaves=20,
)


@given(json_trees)
def test_any_tree_of_project_values_becomes_strict_json_and_converting_again_changes_nothing(tree) -> None:
    converted = to_jsonable(tree)
    assert json.loads(json.dumps(converted, allow_nan=False)) == converted
    assert to_jsonable(converted) == converted
    assert canonical_json(tree) == canonical_json(converted)
