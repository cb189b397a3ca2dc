"""Fetching through file:// URLs behaves like the publisher's site."""

import hashlib
import os

import pytest

from jackpot_pipeline.settings import load_settings
from jackpot_pipeline.sources.fetch import (
    SNAPSHOT_MANIFEST,
    available_seasons,
    fetch_files,
    load_snapshots,
    snapshot_date,
    source_files,
)


def test_source_files_cover_main_and_extra_leagues(shared_base_url):
    files = source_files(shared_base_url, ["E0", "ARG", "SP1"], ["2223", "2324"])
    assert [f.relpath for f in files] == [
        "mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv", "new/ARG.csv", "mmz4281/2223/SP1.csv", "mmz4281/2324/SP1.csv",
    ]
    assert files[2].url == f"{shared_base_url}/new/ARG.csv"


def test_fetch_reports_new_unchanged_changed_and_missing(shared_data, shared_base_url, tmp_path):
    raw = tmp_path / "raw"
    files = source_files(shared_base_url, ["E0", "USA"], ["2324", "2425"])
    progress = []
    first = fetch_files(files, raw, progress=progress.append)
    assert first.new == ["mmz4281/2324/E0.csv", "new/USA.csv"] and first.changed == [] and first.unchanged == []
    assert first.missing == [(f"{shared_base_url}/mmz4281/2425/E0.csv", "no such file")]
    assert progress[0] == "[1/3] mmz4281/2324/E0.csv: new" and progress[1].startswith("[2/3] mmz4281/2425/E0.csv: missing")
    for relpath in first.new:  # byte for byte
        assert (raw / relpath).read_bytes() == (shared_data / relpath).read_bytes()
    assert not [p for p in raw.rglob("*.part")]  # no temp file left behind
    assert (raw / "new/USA.csv").stat().st_mode & 0o777 == 0o644

    stamp = (raw / "new/USA.csv").stat().st_mtime_ns
    second = fetch_files(files, raw)
    assert second.unchanged == ["mmz4281/2324/E0.csv", "new/USA.csv"] and second.new == []
    assert (raw / "new/USA.csv").stat().st_mtime_ns == stamp  # unchanged files are not touched

    (raw / "mmz4281/2324/E0.csv").write_bytes(b"an older download")
    third = fetch_files(files, raw)
    assert third.changed == ["mmz4281/2324/E0.csv"]
    entry = load_snapshots(raw)["mmz4281/2324/E0.csv"]
    assert entry["sha256"] == hashlib.sha256((shared_data / "mmz4281/2324/E0.csv").read_bytes()).hexdigest()
    assert (raw / SNAPSHOT_MANIFEST).is_file()
    assert "missing: " in third.summary() and "1 changed" in third.summary()


def test_snapshot_date_falls_back_to_file_time(tmp_path):
    (tmp_path / "new").mkdir()
    path = tmp_path / "new/ARG.csv"
    path.write_bytes(b"x")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    assert snapshot_date(tmp_path, "new/ARG.csv", "whatever").isoformat() == "2023-11-14"


def test_unreachable_base_url_is_a_clear_message(tmp_path):
    report = fetch_files(source_files("http://127.0.0.1:9", ["E0"], ["2324"]), tmp_path)
    (url, why), = report.missing
    assert url == "http://127.0.0.1:9/mmz4281/2324/E0.csv" and why.startswith("cannot reach")


def test_default_seasons_are_the_last_six_available(shared_base_url):
    assert available_seasons(shared_base_url, ["E0"])[:2] == ["1213", "1314"]
    settings = load_settings({"FOOTBALL_DATA_URL": shared_base_url})
    assert settings.seasons() == ["1819", "1920", "2021", "2122", "2223", "2324"]
    assert settings.leagues == ("E0", "E1", "SP1", "D1", "I1", "F1")
    assert load_settings({"JACKPOT_SEASONS": "1213-1314"}).seasons() == ["1213", "1314"]


def test_bad_settings_name_the_variable_value():
    with pytest.raises(ValueError, match="unknown league code"):
        load_settings({"JACKPOT_LEAGUES": "E0,ZZ"})
