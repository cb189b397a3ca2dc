"""Card formats, validation errors (one test per case, asserting the message) and folder loading."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jackpot_pipeline.jackpots.cards import (
    CARD_CSV_COLUMNS,
    CardError,
    card_sha256,
    load_card,
    load_cards,
    parse_card,
    parse_kickoff,
)

# ------------------------------------------------------------------------------------------
# Builders of valid cards, mutated by the error tests
# ------------------------------------------------------------------------------------------


def json_card(n_fixtures: int = 3) -> dict[str, Any]:
    fixtures = [
        {"home": "Arsenal", "away": "Everton", "league": "E0", "kickoff": "2024-05-19T16:00:00+01:00",
         "odds": {"home": 1.18, "draw": 8.0, "away": 12.0}},
        {"home": "Brentford", "away": "Newcastle", "league": "E0", "kickoff": "2024-05-19 16:00",
         "odds": None},
        {"home": "Liverpool", "away": "Wolves", "kickoff": "19/05/2024 16:00",
         "odds": {"home": 1.17, "draw": 8, "away": 15}},
    ]
    fixtures += [
        {"home": f"Home Club {i}", "away": f"Away Club {i}", "kickoff": "2024-05-19T16:00"}
        for i in range(len(fixtures) + 1, n_fixtures + 1)
    ]
    return {"jackpot_id": "mega_17-2024", "name": "Mega Jackpot", "operator": "SportPesa",
            "owner": None, "fixtures": fixtures[:n_fixtures]}


def csv_rows(n_fixtures: int = 3) -> list[dict[str, str]]:
    rows = []
    for position, fixture in enumerate(json_card(n_fixtures)["fixtures"], start=1):
        odds = fixture.get("odds") or {}
        rows.append({
            "jackpot_id": "mega_17-2024", "name": "Mega Jackpot", "operator": "SportPesa",
            "position": str(position), "home_team": fixture["home"], "away_team": fixture["away"],
            "league": fixture.get("league") or "", "kickoff": fixture["kickoff"],
            "odds_home": str(odds.get("home", "")), "odds_draw": str(odds.get("draw", "")),
            "odds_away": str(odds.get("away", "")),
        })
    return rows


def csv_text(rows: list[dict[str, str]], columns: list[str] | None = None) -> str:
    if columns is None:
        columns = list(rows[0]) if rows else list(CARD_CSV_COLUMNS)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def card_error(path: Path) -> CardError:
    with pytest.raises(CardError) as caught:
        load_card(path)
    return caught.value


def assert_error(error: CardError, path: Path, fixture: int | None, field: str | None, problem: str) -> None:
    """The attributes, and a message naming file, fixture and field, then the problem."""
    assert (error.file, error.fixture, error.field) == (str(path), fixture, field)
    message = str(error)
    assert message.startswith(str(path)), message
    if fixture is not None:
        assert f"fixture {fixture}" in message, message
    if field is not None:
        assert f"field {field!r}" in message, message
    assert problem in message, message


# ------------------------------------------------------------------------------------------
# Valid cards
# ------------------------------------------------------------------------------------------


def test_json_card_loads_with_every_value(tmp_path: Path) -> None:
    path = write(tmp_path, "mega.json", json.dumps(json_card()))
    card = load_card(path)
    assert (card.jackpot_id, card.name, card.operator, card.owner) == ("mega_17-2024", "Mega Jackpot", "SportPesa", None)
    assert card.source_path == path and card.sha256 == card_sha256(path.read_bytes()) == card_sha256(path)
    first, second, third = card.fixtures
    assert (first.position, first.home_team, first.away_team, first.league) == (1, "Arsenal", "Everton", "E0")
    assert first.kickoff == dt.datetime(2024, 5, 19, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert first.odds == (1.18, 8.0, 12.0)
    assert second.odds is None and second.kickoff == dt.datetime(2024, 5, 19, 16, 0)
    assert third.league is None and third.odds == (1.17, 8.0, 15.0)
    assert third.kickoff == dt.datetime(2024, 5, 19, 16, 0)


def test_csv_card_equals_the_same_json_card(tmp_path: Path) -> None:
    from_json = load_card(write(tmp_path, "a.json", json.dumps(json_card())))
    from_csv = load_card(write(tmp_path, "a.csv", csv_text(csv_rows())))
    assert from_csv.fixtures == from_json.fixtures
    assert (from_csv.jackpot_id, from_csv.name, from_csv.operator, from_csv.owner) == (
        from_json.jackpot_id, from_json.name, from_json.operator, from_json.owner)


def test_csv_rows_follow_the_position_column_and_tolerate_blank_rows_and_header_case(tmp_path: Path) -> None:
    rows = csv_rows()
    text = csv_text([rows[2], rows[0], rows[1]]).replace("home_team", "Home_Team", 1)
    text += ",,,,,,,,,,,\n\n"
    card = load_card(write(tmp_path, "shuffled.csv", text))
    assert [f.home_team for f in card.fixtures] == ["Arsenal", "Brentford", "Liverpool"]
    assert [f.position for f in card.fixtures] == [1, 2, 3]


def test_csv_without_position_uses_row_order_and_accepts_owner_and_bom(tmp_path: Path) -> None:
    rows = [{**row, "owner": "ops"} for row in csv_rows()]
    for row in rows:
        del row["position"]
    card = load_card(write(tmp_path, "c.csv", b"\xef\xbb\xbf" + csv_text(rows).encode()))
    assert [f.position for f in card.fixtures] == [1, 2, 3] and card.owner == "ops"


def test_team_names_are_trimmed_and_league_codes_upper_cased(tmp_path: Path) -> None:
    doc = json_card()
    doc["fixtures"][0].update(home="  Man   United ", league="e0")
    card = load_card(write(tmp_path, "x.json", json.dumps(doc)))
    assert card.fixtures[0].home_team == "Man United" and card.fixtures[0].league == "E0"


def test_twenty_fixtures_and_an_empty_operator_are_fine(tmp_path: Path) -> None:
    doc = json_card(20)
    doc["operator"] = "  "
    card = load_card(write(tmp_path, "x.json", json.dumps(doc)))
    assert card.n_fixtures == 20 and card.operator is None


def test_card_to_dict_round_trips_through_the_json_format(tmp_path: Path) -> None:
    card = load_card(write(tmp_path, "a.csv", csv_text(csv_rows())))
    document = card.to_dict()
    for key in ("source_path", "sha256"):
        document.pop(key)
    for fixture in document["fixtures"]:
        fixture.pop("position")
    again = load_card(write(tmp_path, "b.json", json.dumps(document)))
    assert again.fixtures == card.fixtures


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-19T16:00", dt.datetime(2024, 5, 19, 16, 0)),
        ("2024-05-19 16:00:30", dt.datetime(2024, 5, 19, 16, 0, 30)),
        ("2024-05-19T16:00:00Z", dt.datetime(2024, 5, 19, 16, 0, tzinfo=dt.UTC)),
        ("2024-05-19T18:00+03:00", dt.datetime(2024, 5, 19, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))),
        ("19/05/2024 16:00", dt.datetime(2024, 5, 19, 16, 0)),
        (" 9/5/2024 6:05 ", dt.datetime(2024, 5, 9, 6, 5)),
    ],
)
def test_parse_kickoff_accepts_the_documented_forms(text: str, expected: dt.datetime) -> None:
    assert parse_kickoff(text) == expected


# ------------------------------------------------------------------------------------------
# JSON errors: one case each, message asserted
# ------------------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], Any]


def _set(path: list[Any], value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _delete(path: list[Any]) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return mutate


JSON_ERRORS: list[tuple[str, Mutation, int | None, str | None, str]] = [
    ("missing fixture key", _delete(["fixtures", 1, "kickoff"]), 2, "kickoff", "missing key(s) kickoff"),
    ("missing card key", _delete(["jackpot_id"]), None, "jackpot_id", "missing key(s) jackpot_id"),
    ("missing name", _delete(["name"]), None, "name", "missing key(s) name"),
    ("empty name", _set(["name"], " "), None, "name", "must not be empty"),
    ("odds below 1.01", _set(["fixtures", 0, "odds", "draw"], 1.0), 1, "odds.draw", "odds 1.0 outside [1.01, 1000]"),
    ("odds above 1000", _set(["fixtures", 2, "odds", "away"], 1000.5), 3, "odds.away",
     "odds 1000.5 outside [1.01, 1000]"),
    ("odds not a number", _set(["fixtures", 0, "odds", "home"], "1.18"), 1, "odds.home",
     "odds must be a number, got str '1.18'"),
    ("odds boolean", _set(["fixtures", 0, "odds", "home"], True), 1, "odds.home", "odds must be a number, got a boolean"),
    ("partial odds", _delete(["fixtures", 0, "odds", "away"]), 1, "odds.away",
     "partial odds: away missing; give all of home, draw, away or none"),
    ("partial odds null", _set(["fixtures", 0, "odds", "draw"], None), 1, "odds.draw", "partial odds: draw missing"),
    ("odds not an object", _set(["fixtures", 0, "odds"], [1.2, 3.4, 5.6]), 1, "odds",
     "odds must be an object {home, draw, away} or null, got a list"),
    ("unknown odds key", _set(["fixtures", 0, "odds", "over"], 1.9), 1, "odds.over", "unknown key(s) over"),
    ("team name too short", _set(["fixtures", 1, "away"], "N"), 2, "away", "team name 'N' has 1 characters; allowed 2-100"),
    ("team name too long", _set(["fixtures", 0, "home"], "x" * 101), 1, "home", "has 101 characters; allowed 2-100"),
    ("team name not a string", _set(["fixtures", 0, "home"], 7), 1, "home", "team name must be a string, got int 7"),
    ("same team twice", _set(["fixtures", 1, "away"], "brentford"), 2, "home",
     "home and away team are the same ('Brentford')"),
    ("duplicate fixture", _set(["fixtures", 2], {"home": " ARSENAL", "away": "ever ton", "kickoff": "2024-05-20 12:00"}),
     3, "home", "duplicate fixture: ARSENAL v ever ton is already fixture 1"),
    ("bad id characters", _set(["jackpot_id"], "mega jackpot!"), None, "jackpot_id",
     "jackpot_id 'mega jackpot!' contains ' !'; only letters, digits, '_' and '-' are allowed"),
    ("path in id", _set(["jackpot_id"], "../etc"), None, "jackpot_id", "contains './'"),
    ("empty id", _set(["jackpot_id"], ""), None, "jackpot_id", "jackpot_id is empty"),
    ("id too long", _set(["jackpot_id"], "j" * 65), None, "jackpot_id", "longer than 64 characters"),
    ("numeric id", _set(["jackpot_id"], 1234), None, "jackpot_id", "jackpot_id must be a string, got int 1234"),
    ("unparseable kickoff", _set(["fixtures", 1, "kickoff"], "next Sunday"), 2, "kickoff",
     "kick-off 'next Sunday' is not 'YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]' or 'DD/MM/YYYY HH:MM'"),
    ("kickoff without time", _set(["fixtures", 0, "kickoff"], "2024-05-19"), 1, "kickoff",
     "kick-off '2024-05-19' has a date but no time"),
    ("impossible kickoff", _set(["fixtures", 0, "kickoff"], "31/02/2024 16:00"), 1, "kickoff",
     "kick-off '31/02/2024 16:00' is not a real date and time"),
    ("kickoff not a string", _set(["fixtures", 0, "kickoff"], 1716130800), 1, "kickoff", "kick-off must be a string"),
    ("unknown league", _set(["fixtures", 2, "league"], "XX1"), 3, "league", "unknown league code 'XX1'; known codes: E0, E1"),
    ("unknown fixture key", _set(["fixtures", 0, "odd"], 1.5), 1, "odd", "unknown key(s) odd; allowed: away, home, kickoff"),
    ("unknown card key", _set(["date"], "2024-05-19"), None, "date", "unknown key(s) date"),
    ("fixture not an object", _set(["fixtures", 1], ["Arsenal", "Everton"]), 2, None, "a fixture must be an object, got a list"),
    ("fixtures not a list", _set(["fixtures"], {"home": "Arsenal"}), None, "fixtures", "fixtures must be a list, got an object"),
    ("zero fixtures", _set(["fixtures"], []), None, "fixtures", "the card has no fixtures; a card holds 1 to 20"),
    ("more than 20 fixtures", lambda doc: doc.update(fixtures=json_card(21)["fixtures"]), None, "fixtures",
     "the card has 21 fixtures; a card holds at most 20"),
    ("operator not a string", _set(["operator"], 5), None, "operator", "must be a string or null, got int 5"),
]


@pytest.mark.parametrize(
    ("mutate", "fixture", "field", "problem"),
    [case[1:] for case in JSON_ERRORS],
    ids=[case[0] for case in JSON_ERRORS],
)
def test_json_card_errors(
    tmp_path: Path, mutate: Mutation, fixture: int | None, field: str | None, problem: str
) -> None:
    doc = copy.deepcopy(json_card())
    mutate(doc)
    path = write(tmp_path, "bad.json", json.dumps(doc))
    assert_error(card_error(path), path, fixture, field, problem)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"jackpot_id": "x", "name": "y",', "malformed JSON: Expecting property name enclosed in double quotes at line 1"),
        ("[1, 2]", "a JSON card must be an object, got a list"),
        ("", "empty file"),
        (b"\xff\xfe{}", "not UTF-8 text (byte 0"),
    ],
    ids=["malformed", "not an object", "empty", "not utf-8"],
)
def test_json_file_level_errors(tmp_path: Path, content: str | bytes, problem: str) -> None:
    path = write(tmp_path, "bad.json", content)
    assert_error(card_error(path), path, None, None, problem)


# ------------------------------------------------------------------------------------------
# CSV errors
# ------------------------------------------------------------------------------------------


def _cell(row: int, column: str, value: str) -> Callable[[list[dict[str, str]]], None]:
    def mutate(rows: list[dict[str, str]]) -> None:
        rows[row][column] = value
    return mutate


CSV_ERRORS: list[tuple[str, Callable[[list[dict[str, str]]], Any], int | None, str | None, str]] = [
    ("inconsistent jackpot_id", _cell(1, "jackpot_id", "mega_18"), 2, "jackpot_id",
     "inconsistent jackpot_id across rows: 'mega_17-2024' on fixture 1, 'mega_18' here"),
    ("inconsistent name", _cell(2, "name", "Midweek"), 3, "name", "inconsistent name across rows"),
    ("inconsistent operator", _cell(2, "operator", "Betika"), 3, "operator", "inconsistent operator across rows"),
    ("partial odds", _cell(0, "odds_draw", ""), 1, "odds_draw",
     "partial odds: odds_draw blank; give all of odds_home, odds_draw, odds_away or none"),
    ("odds with a decimal comma", _cell(0, "odds_home", "1,18"), 1, "odds_home", "odds '1,18' is not a decimal number"),
    ("odds below 1.01", _cell(2, "odds_away", "0.5"), 3, "odds_away", "odds 0.5 outside [1.01, 1000]"),
    ("odds above 1000", _cell(2, "odds_away", "1001"), 3, "odds_away", "odds 1001.0 outside [1.01, 1000]"),
    ("odds not finite", _cell(2, "odds_away", "inf"), 3, "odds_away", "odds inf outside [1.01, 1000]"),
    ("team name too short", _cell(1, "home_team", "B"), 2, "home_team", "team name 'B' has 1 characters"),
    ("team name too long", _cell(1, "away_team", "y" * 101), 2, "away_team", "has 101 characters; allowed 2-100"),
    ("duplicate fixture", lambda rows: rows[2].update(home_team="brentford", away_team="NEW CASTLE"), 3, "home_team",
     "duplicate fixture: brentford v NEW CASTLE is already fixture 2"),
    ("unparseable kickoff", _cell(1, "kickoff", "19.05.2024 16:00"), 2, "kickoff", "kick-off '19.05.2024 16:00' is not"),
    ("unknown league", _cell(0, "league", "EPL"), 1, "league", "unknown league code 'EPL'"),
    ("bad id", lambda rows: [row.update(jackpot_id="mega#17") for row in rows], None, "jackpot_id",
     "jackpot_id 'mega#17' contains '#'"),
    ("position out of range", _cell(1, "position", "4"), None, "position",
     "position '4' is not a whole number from 1 to 3 (the number of fixtures)"),
    ("position not a number", _cell(1, "position", "two"), None, "position", "position 'two' is not a whole number"),
    ("position repeated", _cell(2, "position", "1"), 1, "position", "position 1 already used on line 2"),
]


@pytest.mark.parametrize(
    ("mutate", "fixture", "field", "problem"),
    [case[1:] for case in CSV_ERRORS],
    ids=[case[0] for case in CSV_ERRORS],
)
def test_csv_card_errors(
    tmp_path: Path, mutate: Callable[[list[dict[str, str]]], Any], fixture: int | None, field: str | None,
    problem: str,
) -> None:
    rows = csv_rows()
    mutate(rows)
    path = write(tmp_path, "bad.csv", csv_text(rows))
    assert_error(card_error(path), path, fixture, field, problem)


def test_csv_row_errors_name_the_line(tmp_path: Path) -> None:
    rows = csv_rows()
    rows[1]["kickoff"] = "soon"
    path = write(tmp_path, "bad.csv", csv_text(rows))
    assert f"{path}, fixture 2 (line 3), field 'kickoff': kick-off 'soon'" in str(card_error(path))


@pytest.mark.parametrize(
    ("make_text", "field", "problem"),
    [
        (lambda: csv_text(csv_rows(), [c for c in csv_rows()[0] if c != "odds_away"]), "odds_away",
         "missing column(s) odds_away"),
        (lambda: csv_text(csv_rows(), [c for c in csv_rows()[0] if c not in ("league", "kickoff")]), "league",
         "missing column(s) league, kickoff"),
        (lambda: csv_text(csv_rows()).replace(",", ";"), "jackpot_id",
         "(the file looks semicolon-separated; cards use commas)"),
        (lambda: csv_text([{**row, "stake": "50"} for row in csv_rows()]), "stake", "unknown column(s) stake; allowed:"),
        (lambda: csv_text(csv_rows()).replace("name,operator", "name,name", 1), "name", "duplicate column(s) name"),
        (lambda: csv_text(csv_rows())[: csv_text(csv_rows()).index("\n") + 1], "fixtures",
         "the card has no fixtures; a card holds 1 to 20"),
        (lambda: csv_text(csv_rows(21)), "fixtures", "the card has 21 fixtures; a card holds at most 20"),
    ],
    ids=["missing column", "missing columns", "semicolons", "unknown column", "duplicate column", "zero fixtures",
         "more than 20 fixtures"],
)
def test_csv_structure_errors(tmp_path: Path, make_text: Callable[[], str], field: str, problem: str) -> None:
    path = write(tmp_path, "bad.csv", make_text())
    assert_error(card_error(path), path, None, field, problem)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (lambda: csv_text(csv_rows()) + 'mega_17-2024,Mega Jackpot,SportPesa,4,"Fulham,Luton\n',
         "malformed CSV at line 5: unexpected end of data"),
        (lambda: csv_text(csv_rows()) + "mega_17-2024,Mega Jackpot\n", "line 5: row has 2 cells, the header has 11"),
        (lambda: "", "empty file"),
        (lambda: b"jackpot_id\n\xe9t\xe9\n", "not UTF-8 text"),
    ],
    ids=["unterminated quote", "short row", "empty", "not utf-8"],
)
def test_csv_file_level_errors(tmp_path: Path, content: Callable[[], str | bytes], problem: str) -> None:
    path = write(tmp_path, "bad.csv", content())
    assert_error(card_error(path), path, None, None, problem)


def test_unsupported_and_unreadable_files(tmp_path: Path) -> None:
    path = write(tmp_path, "card.xlsx", b"PK")
    assert_error(card_error(path), path, None, None, "unsupported card file type '.xlsx'; use .json or .csv")
    missing = tmp_path / "gone.json"
    assert_error(card_error(missing), missing, None, None, "cannot read the file: No such file or directory")
    results = write(tmp_path, "card.results.csv", "position,result\n1,H\n")
    assert_error(card_error(results), results, None, None, "holds results, not a card")


def test_parse_card_takes_bytes_and_an_explicit_format(tmp_path: Path) -> None:
    card = parse_card(csv_text(csv_rows()).encode(), "upload-from-api", card_format="csv")
    assert card.n_fixtures == 3 and card.source_path == Path("upload-from-api")


# ------------------------------------------------------------------------------------------
# Folder loading
# ------------------------------------------------------------------------------------------


def test_load_cards_isolates_bad_cards(tmp_path: Path) -> None:
    write(tmp_path, "a_good.json", json.dumps(json_card()))
    bad = json_card()
    bad["fixtures"][0]["odds"]["home"] = 0.5
    write(tmp_path, "b_bad.json", json.dumps(bad))
    write(tmp_path, "c_broken.csv", "not,a,card\n")
    good_csv = [{**row, "jackpot_id": "midweek"} for row in csv_rows()]
    write(tmp_path, "d_good.CSV", csv_text(good_csv))
    write(tmp_path, "d_good.results.csv", "position,result\n1,H\n")  # a results file, not a card
    write(tmp_path, "README.md", "cards live here")
    write(tmp_path, ".e_swap.json", "{")
    cards, errors = load_cards(tmp_path)
    assert [card.jackpot_id for card in cards] == ["mega_17-2024", "midweek"]
    assert [Path(error.file).name for error in errors] == ["b_bad.json", "c_broken.csv"]
    assert errors[0].fixture == 1 and errors[0].field == "odds.home"
    assert "missing column(s) jackpot_id" in str(errors[1])


def test_load_cards_rejects_both_cards_sharing_an_id(tmp_path: Path) -> None:
    write(tmp_path, "one.json", json.dumps(json_card()))
    write(tmp_path, "two.csv", csv_text(csv_rows()))
    write(tmp_path, "three.json", json.dumps({**json_card(), "jackpot_id": "other"}))
    cards, errors = load_cards(tmp_path)
    assert [card.jackpot_id for card in cards] == ["other"]
    assert sorted(Path(error.file).name for error in errors) == ["one.json", "two.csv"]
    assert all(error.field == "jackpot_id" and "is also declared by" in str(error) for error in errors)


def test_load_cards_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert load_cards(tmp_path / "nowhere") == ([], [])
