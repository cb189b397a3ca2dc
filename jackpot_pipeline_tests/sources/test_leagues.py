import datetime as dt

import pytest

from jackpot_pipeline.sources.leagues import (
    ALL_LEAGUES,
    DEFAULT_LEAGUES,
    EXTRA_LEAGUES,
    MAIN_LEAGUES,
    SeasonError,
    SeasonWindow,
    check_season_key,
    current_split_season,
    expand_leagues,
    expand_seasons,
    season_key_for_date,
    season_key_from_label,
    season_selected,
    season_window,
    season_years,
    source_relpath,
    split_season_start_year,
)

EVERY_MAIN_DIVISION = "E0 E1 E2 E3 EC SC0 SC1 SC2 SC3 D1 D2 I1 I2 SP1 SP2 F1 F2 N1 B1 P1 T1 G1".split()
EVERY_EXTRA_COUNTRY = "ARG AUT BRA CHN DNK FIN IRL JPN MEX NOR POL ROU RUS SWE SWZ USA".split()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("2324", ["2324"]),
        ("1819-2324", ["1819", "1920", "2021", "2122", "2223", "2324"]),
        ("2324, 1213", ["1213", "2324"]),
        ("9900", ["9900"]),
        ("1213-1314,1314", ["1213", "1314"]),
        ("9798-0102", ["9798", "9899", "9900", "0001", "0102"]),
        ("2526", ["2526"]),
    ],
)
def test_expand_seasons(spec, expected):
    assert expand_seasons(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [("2325", "split-season key"), ("2324-1819", "backwards"), ("", "no season"), ("23-24", "split-season key")])
def test_bad_seasons_are_refused(spec, message):
    with pytest.raises(SeasonError, match=message):
        expand_seasons(spec)


def test_every_publisher_league_is_in_the_catalogue():
    assert list(MAIN_LEAGUES) == EVERY_MAIN_DIVISION
    assert list(EXTRA_LEAGUES) == EVERY_EXTRA_COUNTRY
    assert expand_leagues("all") == EVERY_MAIN_DIVISION + EVERY_EXTRA_COUNTRY == list(ALL_LEAGUES)
    assert expand_leagues(",".join(code.lower() for code in EVERY_MAIN_DIVISION + EVERY_EXTRA_COUNTRY)) == list(ALL_LEAGUES)


def test_seasons_from_1993_94_map_to_their_years():
    assert expand_seasons("9394-2324")[:3] == ["9394", "9495", "9596"]
    assert expand_seasons("9394-2324")[-1] == "2324" and len(expand_seasons("9394-2324")) == 31
    assert [split_season_start_year(key) for key in ("9394", "9900", "0001", "2526")] == [1993, 1999, 2000, 2025]
    assert season_window("E0", "9394") == SeasonWindow(dt.date(1993, 7, 1), dt.date(1994, 8, 31))
    assert season_window("SC3", "9900").last_day == dt.date(2000, 8, 31)
    assert season_years("T1", "9900") == (1999, 2000)
    with pytest.raises(SeasonError, match="backwards"):
        expand_seasons("2324-9394")


def test_extra_leagues_key_seasons_the_way_they_play_them():
    # Austria plays split seasons: 2020/2021 is keyed 2021 like E0's 2020/21, never refused
    assert season_key_from_label("2020/2021", "AUT") == "2021"
    assert season_window("AUT", "2021").first_day == dt.date(2020, 7, 1)
    with pytest.raises(SeasonError, match="AUT plays split seasons"):
        season_key_from_label("2021", "AUT")
    with pytest.raises(SeasonError):
        check_season_key("AUT", "2012")
    # calendar-year leagues: 2021 is the year 2021, a colliding split label is refused
    assert season_window("BRA", "2021").first_day == dt.date(2021, 1, 1)
    with pytest.raises(SeasonError, match="collides"):
        season_key_from_label("2020/2021", "IRL")
    assert season_key_from_label("2018/2019", "IRL") == "1819"
    assert season_key_for_date("AUT", dt.date(2024, 8, 3)) == "2425"
    assert season_key_for_date("USA", dt.date(2024, 8, 3)) == "2024"
    assert season_key_for_date("G1", dt.date(1995, 3, 1)) == "9495"


def test_expand_leagues():
    assert expand_leagues("E0, sp1,E0") == ["E0", "SP1"]
    assert len(expand_leagues("all")) == 38 and "ARG" in expand_leagues("ALL")
    assert tuple(DEFAULT_LEAGUES) == ("E0", "E1", "SP1", "D1", "I1", "F1")
    with pytest.raises(ValueError, match="unknown league code"):
        expand_leagues("E0,XX9")


@pytest.mark.parametrize(
    ("label", "key"),
    [("2012/2013", "1213"), ("2019/2020", "1920"), ("2021", "2021"), (" 2014 ", "2014")],
)
def test_new_format_season_labels(label, key):
    assert season_key_from_label(label) == key


def test_ambiguous_or_bad_season_labels_are_refused():
    with pytest.raises(SeasonError, match="collides with calendar season 2021"):
        season_key_from_label("2020/2021")
    with pytest.raises(SeasonError):
        season_key_from_label("2012/2014")


def test_season_windows_depend_on_the_league():
    assert season_window("E0", "2021").first_day == dt.date(2020, 7, 1)  # 2020/21
    assert season_window("ARG", "2021").first_day == dt.date(2021, 1, 1)  # calendar 2021
    assert season_window("E0", "1920").contains(dt.date(2020, 8, 7))  # COVID-19 season ran into August
    assert season_window("BRA", "2020").contains(dt.date(2021, 2, 26))
    with pytest.raises(SeasonError):
        season_window("E0", "2012")


def test_season_selection_for_extra_leagues():
    window = expand_seasons("1213-2324")
    assert season_selected("E0", "1213", window) and not season_selected("E0", "2425", window)
    assert season_selected("ARG", "2012", window) and season_selected("ARG", "2024", window)
    assert not season_selected("ARG", "2025", window)
    assert season_selected("ARG", "1920", window)


def test_paths_and_current_season():
    assert source_relpath("E0", "2324") == "mmz4281/2324/E0.csv"
    assert source_relpath("ARG") == "new/ARG.csv"
    assert current_split_season(dt.date(2026, 11, 21)) == "2627"
    assert current_split_season(dt.date(2026, 6, 30)) == "2526"
