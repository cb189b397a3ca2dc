import shutil

import pandas as pd

from jackpot_pipeline.sources.catalog import discover_partitions, league_and_season_of, partitions_of_file
from jackpot_pipeline.sources.leagues import expand_seasons
from jackpot_pipeline.sources.revisions import diff_matches


def copy(shared_data, raw, *relpaths):
    for relpath in relpaths:
        (raw / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / relpath, raw / relpath)


def test_paths_map_to_partitions():
    assert league_and_season_of("mmz4281/2324/E0.csv") == ("E0", "2324")
    assert league_and_season_of("new/ARG.csv") == ("ARG", None)
    for other in ("mmz4281/2324/XX.csv", "mmz4281/2325/E0.csv", "new/E0.csv", "notes/E0.csv", "mmz4281/2324/ARG.csv"):
        assert league_and_season_of(other) is None


def test_discover_limits_to_configured_leagues_and_seasons(shared_data, tmp_path):
    copy(shared_data, tmp_path, "mmz4281/2324/E0.csv", "mmz4281/1213/E0.csv", "mmz4281/2324/SP1.csv", "new/NOR.csv")
    keys = [p.partition_key for p in discover_partitions(tmp_path, ["E0", "NOR"], expand_seasons("2223-2324"))]
    assert keys == ["E0|2324", "NOR|2022", "NOR|2023", "NOR|2024"]
    everything = discover_partitions(tmp_path)
    assert len(everything) == 3 + 14  # NOR 2012..2025


def test_extra_league_fingerprints_change_per_season(shared_data, tmp_path):
    copy(shared_data, tmp_path, "new/NOR.csv")
    before = {p.season: p for p in partitions_of_file(tmp_path, "new/NOR.csv")}
    data = (tmp_path / "new/NOR.csv").read_bytes()
    last = data.rstrip(b"\r\n").split(b"\r\n")[-1]
    (tmp_path / "new/NOR.csv").write_bytes(data + last.replace(b"Brann", b"Bodo/Glimt", 1) + b"\r\n")
    after = {p.season: p for p in partitions_of_file(tmp_path, "new/NOR.csv")}
    changed = sorted(s for s in before if before[s].fingerprint != after[s].fingerprint)
    assert changed == ["2025"]
    assert all(before[s].file_sha256 != after[s].file_sha256 for s in before)


def _frame(rows):
    return pd.DataFrame(rows, columns=["match_id", "match_date", "home_goals", "odds_home", "source_row", "source_sha256"])


def test_diff_matches_counts_inserted_updated_removed():
    previous = _frame([["a", "2024-01-01", 1, 2.0, 2, "x"], ["b", "2024-01-02", 0, None, 3, "x"], ["c", "2024-01-03", 2, 1.5, 4, "x"]])
    current = _frame([["a", "2024-01-01", 1, 2.0, 9, "y"], ["b", "2024-01-02", 0, None, 3, "y"], ["c", "2024-01-04", 2, 1.5, 4, "y"], ["d", "2024-01-05", 1, 3.0, 5, "y"]])
    diff = diff_matches(previous, current)
    assert (diff.inserted, diff.updated, diff.removed, diff.unchanged) == (["d"], ["c"], [], 2)
    assert diff_matches(current, previous).removed == ["d"]
    assert diff_matches(None, current).inserted == ["a", "b", "c", "d"]
