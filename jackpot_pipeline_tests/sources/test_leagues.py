import datetime as dt

import pytest

from jackpot_pipeline.sources.leagues import (
    DEFAULT_LEAGUES,
    SeasonError,
    current_split_season,
    expand_leagues,
    expand_seasons,
    season_key_from_label,
    season_selected,
    season_window,
    source_relpath,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("2324", ["2324"]),
        ("1819-2324", ["1819", "1920", "2021", "2122", "2223", "2324"]),
        ("2324, 1213", ["1213", "2324"]),
        ("9900", ["9900"]),
        ("1213-1314,1314", ["1213", "1314"]),
    ],
)
def test_expand_seasons(spec, expected):
    assert expand_seasons(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [("2325", "split-season key"), ("2324-1819", "backwards"), ("", "no season"), ("23-24", "split-season key")])
def test_bad_seasons_are_refused(spec, message):
    with pytest.raises(SeasonError, match=message):
        expand_seasons(spec)


def test_expand_leagues():
    assert expand_leagues("E0, sp1,E0") == ["E0", "SP1"]
    assert len(expand_leagues("all")) == 21 and "ARG" in expand_leagues("ALL")
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
