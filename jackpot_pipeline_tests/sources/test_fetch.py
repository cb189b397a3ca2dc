"""Fetching through file:// URLs behaves like the publisher's site; against a real HTTP server on
127.0.0.1, transient failures are retried, missing files reported, and a broken download never
replaces the previous copy."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jackpot_pipeline import cli
from jackpot_pipeline.settings import load_settings
from jackpot_pipeline.sources.fetch import (
    SNAPSHOT_MANIFEST,
    FetchError,
    RetryPolicy,
    available_seasons,
    fetch_files,
    load_snapshots,
    snapshot_date,
    source_files,
)
from jackpot_pipeline.sources.leagues import EXTRA_LEAGUES, MAIN_LEAGUES, SeasonError

FAST = RetryPolicy(attempts=4, first_delay=0.01, max_delay=0.05, timeout=2.0)

# --- a real HTTP server with scripted answers ----------------------------------------------------

Answer = Callable[[http.server.BaseHTTPRequestHandler, int], None]  # (handler, n-th request of that path)


def serve_bytes(data: bytes) -> Answer:
    def answer(handler, _n):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)
    return answer


def status(code: int) -> Answer:
    def answer(handler, _n):
        handler.send_error(code)
    return answer


def failing_then(failures: int, code: int, then: Answer) -> Answer:
    def answer(handler, n):
        (status(code) if n <= failures else then)(handler, n)
    return answer


def cut_short(data: bytes) -> Answer:
    def answer(handler, _n):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[: len(data) // 2])
        handler.wfile.flush()
        handler.close_connection = True
    return answer


def slow_then(delay: float, then: Answer) -> Answer:
    def answer(handler, n):
        if n == 1:
            time.sleep(delay)
        then(handler, n)
    return answer


@contextmanager
def scripted_server(routes: dict[str, Answer]) -> Iterator[tuple[str, Counter]]:
    """A ThreadingHTTPServer on 127.0.0.1 answering each path with its script (404 elsewhere)."""
    hits: Counter = Counter()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            hits[self.path] += 1
            routes.get(self.path, status(404))(self, hits[self.path])

        do_GET = do_HEAD = _answer

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def shared_routes(shared_data: Path) -> dict[str, Answer]:
    return {
        f"/{path.relative_to(shared_data).as_posix()}": serve_bytes(path.read_bytes())
        for path in shared_data.glob("*/**/*.csv")
    }


# --- acceptance: the four failure modes, on real files ---------------------------------------------


def test_retries_missing_and_broken_downloads_against_a_real_http_server(shared_data, tmp_path):
    raw = tmp_path / "raw"
    real = {league: (shared_data / f"mmz4281/2324/{league}.csv").read_bytes() for league in ("E0", "SP1", "D1", "F1")}
    older = {league: (shared_data / f"mmz4281/2223/{league}.csv").read_bytes() for league in ("SP1", "D1", "F1")}
    for league, data in older.items():  # good local copies that a broken download must not replace
        (raw / "mmz4281/2324").mkdir(parents=True, exist_ok=True)
        (raw / f"mmz4281/2324/{league}.csv").write_bytes(data)
    routes = {
        "/mmz4281/2324/E0.csv": failing_then(2, 503, serve_bytes(real["E0"])),
        "/mmz4281/2324/SP1.csv": status(500),
        "/mmz4281/2324/D1.csv": cut_short(real["D1"]),
        "/mmz4281/2324/F1.csv": serve_bytes(b"<!DOCTYPE html><html><body>Maintenance</body></html>"),
        "/mmz4281/2324/I1.csv": status(404),
    }
    progress: list[str] = []
    with scripted_server(routes) as (base, hits):
        files = source_files(base, ["E0", "SP1", "D1", "F1", "I1"], ["2324"])
        report = fetch_files(files, raw, progress=progress.append, policy=FAST)

    # 503 twice, then 200: fetched, byte for byte, on the third request
    assert report.new == ["mmz4281/2324/E0.csv"] and hits["/mmz4281/2324/E0.csv"] == 3
    assert (raw / "mmz4281/2324/E0.csv").read_bytes() == real["E0"]
    # 404: missing, asked once, nothing written
    assert report.missing == [(f"{base}/mmz4281/2324/I1.csv", "HTTP 404 Not Found")]
    assert hits["/mmz4281/2324/I1.csv"] == 1 and not (raw / "mmz4281/2324/I1.csv").exists()
    # 500 forever, a body cut short, an HTML page: failed with URL and cause, the old copy untouched
    failed = dict(report.failed)
    assert set(failed) == {f"{base}/mmz4281/2324/{league}.csv" for league in ("SP1", "D1", "F1")}
    assert failed[f"{base}/mmz4281/2324/SP1.csv"] == (
        "HTTP 500 Internal Server Error (gave up after 4 attempts) (the previous copy is kept)"
    )
    assert hits["/mmz4281/2324/SP1.csv"] == FAST.attempts
    assert failed[f"{base}/mmz4281/2324/D1.csv"].startswith(
        f"body cut short: {len(real['D1']) // 2} of {len(real['D1'])} bytes arrived (gave up after 4 attempts)"
    )
    assert failed[f"{base}/mmz4281/2324/F1.csv"].startswith("the download is not a football-data CSV: this is an HTML page")
    for league, data in older.items():
        assert (raw / f"mmz4281/2324/{league}.csv").read_bytes() == data, league
    assert not [p for p in raw.rglob("*.part")]  # no temporary file left behind
    assert set(load_snapshots(raw)) == {"mmz4281/2324/E0.csv"}
    assert "1 new, 0 changed, 0 unchanged, 1 missing, 3 failed" in report.summary() and not report.ok
    assert any(line.startswith("[2/5] mmz4281/2324/SP1.csv: FAILED: HTTP 500") for line in progress)


def test_a_timeout_is_retried(shared_data, tmp_path):
    data = (shared_data / "mmz4281/2324/E0.csv").read_bytes()
    policy = RetryPolicy(attempts=3, first_delay=0.01, timeout=0.3)
    with scripted_server({"/mmz4281/2324/E0.csv": slow_then(1.0, serve_bytes(data))}) as (base, hits):
        report = fetch_files(source_files(base, ["E0"], ["2324"]), tmp_path, policy=policy)
    assert report.new == ["mmz4281/2324/E0.csv"] and hits["/mmz4281/2324/E0.csv"] == 2


def test_retry_backoff_doubles_and_honours_retry_after(shared_data, tmp_path):
    waits: list[float] = []
    policy = RetryPolicy(attempts=4, first_delay=0.5, max_delay=3.0, sleep=waits.append)

    def too_many(handler, n):
        if n < 3:
            handler.send_response(429)
            handler.send_header("Retry-After", "2" if n == 2 else "0")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        else:
            serve_bytes((shared_data / "new/NOR.csv").read_bytes())(handler, n)

    with scripted_server({"/new/NOR.csv": too_many, "/new/USA.csv": status(502)}) as (base, _):
        report = fetch_files(source_files(base, ["NOR", "USA"], ["2324"]), tmp_path, policy=policy)
    assert report.new == ["new/NOR.csv"]
    assert waits == [0.5, 2.0, 0.5, 1.0, 2.0]  # NOR: 0.5, then Retry-After 2 over 1.0; USA: 0.5, 1, 2
    assert report.failed == [(f"{base}/new/USA.csv", "HTTP 502 Bad Gateway (gave up after 4 attempts)")]


def test_other_http_errors_fail_at_once_and_unreachable_hosts_after_retries(tmp_path):
    with scripted_server({"/mmz4281/2324/E0.csv": status(403)}) as (base, hits):
        report = fetch_files(source_files(base, ["E0"], ["2324"]), tmp_path, policy=FAST)
    assert report.failed == [(f"{base}/mmz4281/2324/E0.csv", "HTTP 403 Forbidden")] and hits["/mmz4281/2324/E0.csv"] == 1
    report = fetch_files(source_files("http://127.0.0.1:9", ["E0"], ["2324"]), tmp_path, policy=FAST)
    (url, cause), = report.failed
    assert url == "http://127.0.0.1:9/mmz4281/2324/E0.csv"
    assert cause == "cannot connect: Connection refused (gave up after 4 attempts)"


def test_fetch_command_accepts_every_league_code(shared_data, tmp_path, monkeypatch, capsys):
    every_code = list(MAIN_LEAGUES) + list(EXTRA_LEAGUES)
    with scripted_server(shared_routes(shared_data)) as (base, _):
        monkeypatch.setenv("FOOTBALL_DATA_URL", base)
        monkeypatch.setenv("JACKPOT_DATA_DIR", str(tmp_path / "data"))
        code = cli.main(["fetch", "--leagues", ",".join(every_code), "--seasons", "2324"])
    out = capsys.readouterr().out
    assert code == 0, out
    # the 16 shared divisions and 5 shared countries arrive; the publisher's other files are missing here
    shared = {p.stem for p in shared_data.glob("mmz4281/2324/*.csv")} | {p.stem for p in shared_data.glob("new/*.csv")}
    assert {p.stem for p in (tmp_path / "data/raw").rglob("*.csv")} == shared
    assert f"fetching {len(every_code)} file(s) of {len(every_code)} league(s)" in out
    assert f"{len(shared)} new, 0 changed, 0 unchanged, {len(every_code) - len(shared)} missing, 0 failed" in out
    assert f"missing: {base}/mmz4281/2324/T1.csv (HTTP 404 Not Found)" in out
    assert f"missing: {base}/new/SWZ.csv (HTTP 404 Not Found)" in out


def test_fetch_command_fails_loudly(tmp_path, capsys):
    environ = {"JACKPOT_DATA_DIR": str(tmp_path / "data"), "JACKPOT_LEAGUES": "E0"}
    with scripted_server({"/mmz4281/2324/E0.csv": status(500)}) as (base, _):
        settings = load_settings({**environ, "FOOTBALL_DATA_URL": base, "JACKPOT_SEASONS": "2324"})
        assert cli.command_fetch(settings, policy=FAST) == 1
    assert f"FAILED: {base}/mmz4281/2324/E0.csv: HTTP 500 Internal Server Error (gave up" in capsys.readouterr().out
    # without JACKPOT_SEASONS the seasons are discovered, and not being able to is an error
    unreachable = load_settings({**environ, "FOOTBALL_DATA_URL": "file:///nonexistent/football-data"})
    assert cli.command_fetch(unreachable) == 1
    assert "cannot work out the seasons to fetch: file:///nonexistent/football-data: no such directory" in (
        capsys.readouterr().err
    )


# --- season discovery ------------------------------------------------------------------------------


def test_available_seasons_are_probed_and_network_errors_raise(shared_data):
    import datetime as dt

    routes = shared_routes(shared_data)
    with scripted_server(routes) as (base, hits):
        seasons = available_seasons(base, ["E0"], today=dt.date(2024, 11, 1), lookback=14, policy=FAST)
        assert seasons == ["1213", "1314", "1415", "1516", "1617", "1718", "1819", "1920", "2021", "2122", "2223", "2324"]
        assert hits["/mmz4281/2425/E0.csv"] == 1  # 404: not there, asked once
    with scripted_server({"/mmz4281/2324/E0.csv": status(503)}) as (base, _):
        with pytest.raises(FetchError, match=r"mmz4281/2324/E0.csv: HTTP 503 Service Unavailable \(gave up after 4"):
            available_seasons(base, ["E0"], today=dt.date(2024, 11, 1), policy=FAST)
    with pytest.raises(FetchError, match="cannot connect"):
        available_seasons("http://127.0.0.1:9", ["E0"], today=dt.date(2024, 11, 1), policy=FAST)
    with pytest.raises(FetchError, match="no such directory"):
        available_seasons("file:///nonexistent/football-data", ["E0"])


def test_seasons_are_discovered_once_per_settings_object(shared_data):
    import datetime as dt

    with scripted_server(shared_routes(shared_data)) as (base, hits):
        settings = load_settings({"FOOTBALL_DATA_URL": base})
        first = settings.seasons(today=dt.date(2024, 11, 1))
        probes = sum(hits.values())
        assert settings.seasons(today=dt.date(2024, 11, 1)) == first == ["1819", "1920", "2021", "2122", "2223", "2324"]
        assert sum(hits.values()) == probes  # the second call asked nobody
    empty = load_settings({"FOOTBALL_DATA_URL": (shared_data / "new").as_uri()})
    with pytest.raises(SeasonError, match="holds no season of E0"):
        empty.seasons()


# --- file:// (the shared copy) ---------------------------------------------------------------------


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


def test_default_seasons_are_the_last_six_available(shared_base_url):
    assert available_seasons(shared_base_url, ["E0"])[:2] == ["1213", "1314"]
    settings = load_settings({"FOOTBALL_DATA_URL": shared_base_url})
    assert settings.seasons() == ["1819", "1920", "2021", "2122", "2223", "2324"]
    assert settings.leagues == ("E0", "E1", "SP1", "D1", "I1", "F1")
    assert load_settings({"JACKPOT_SEASONS": "1213-1314"}).seasons() == ["1213", "1314"]
    assert load_settings({"JACKPOT_SEASONS": "9394-2324"}).seasons()[0] == "9394"


def test_bad_settings_name_the_variable_value():
    with pytest.raises(ValueError, match="unknown league code"):
        load_settings({"JACKPOT_LEAGUES": "E0,ZZ"})
