import datetime as dt
import shutil

import pandas as pd
import pytest

from jackpot_pipeline.sources.catalog import discover_partitions, league_and_season_of, partitions_of_file
from jackpot_pipeline.sources.football_data import canonicalise, parse_source, partition_rows
from jackpot_pipeline.sources.leagues import expand_seasons
from jackpot_pipeline.sources.revisions import WITHDRAWN_COLUMNS, diff_matches, withdraw_partition, withdrawn_matches


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


def test_removed_matches_are_withdrawn_kept_and_reinstated(shared_data):
    relpath = "mmz4281/2324/E0.csv"
    parsed = parse_source((shared_data / relpath).read_bytes(), relpath)
    (rows,) = partition_rows(parsed, "E0", "2324").values()
    full = canonicalise(parsed, rows, snapshot_date=dt.date(2026, 1, 1)).canonical
    revised = full.iloc[3:]
    first = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
    withdrawn = withdrawn_matches(full, revised, None, source_sha256="b" * 64, at=first)
    assert list(withdrawn.columns) == WITHDRAWN_COLUMNS
    assert sorted(withdrawn["match_id"]) == sorted(full["match_id"].iloc[:3])
    assert set(withdrawn["withdrawn_reason"]) == {"removed_from_source"} and set(withdrawn["withdrawn_by_sha256"]) == {"b" * 64}
    assert (withdrawn["withdrawn_at"] == pd.Timestamp("2024-06-01 12:00")).all()
    # the last canonical row is what is kept
    pd.testing.assert_frame_equal(
        withdrawn.drop(columns=["withdrawn_at", "withdrawn_by_sha256", "withdrawn_reason"]).sort_values("match_id").reset_index(drop=True),
        full.iloc[:3].sort_values("match_id").reset_index(drop=True), check_dtype=False,
    )
    # a later version that lacks one more keeps the earlier withdrawals as they were
    later = withdrawn_matches(revised, revised.iloc[1:], withdrawn, source_sha256="c" * 64, at=first + dt.timedelta(days=7))
    assert len(later) == 4 and later["withdrawn_by_sha256"].tolist() == ["b" * 64] * 3 + ["c" * 64]
    # the publisher restores two: they are canonical again, no longer withdrawn
    restored = pd.concat([full.iloc[:2], revised.iloc[1:]])
    back = withdrawn_matches(revised.iloc[1:], restored, later, source_sha256="d" * 64, at=first + dt.timedelta(days=14))
    assert sorted(back["match_id"]) == sorted([full["match_id"].iloc[2], revised["match_id"].iloc[0]])
    # a partition its source no longer holds is withdrawn as a whole
    dropped = withdraw_partition(restored, back, at=first + dt.timedelta(days=21))
    assert len(dropped) == 380 and dropped["withdrawn_reason"].value_counts().to_dict() == {
        "partition_dropped": 378, "removed_from_source": 2,
    }
    with pytest.raises(ValueError, match="unknown withdrawal reason"):
        withdrawn_matches(full, revised, None, source_sha256=None, at=first, reason="deleted")
