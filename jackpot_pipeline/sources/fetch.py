"""Byte-for-byte download of football-data.co.uk files into ``data/raw/`` (same layout as the site).

``file://`` base URLs work exactly like ``https://`` ones, which is how tests and offline machines
use the shared copy of the publisher's files.

Failures are loud and never cost a good local copy:

* timeouts, connection errors, bodies cut short and HTTP 5xx (and 408/429) are retried with
  exponential backoff (:class:`RetryPolicy`); after the last attempt the file is *failed*, with its
  URL and the cause;
* HTTP 404 and 410 (or a missing local file) mean the publisher does not have the file: *missing*,
  which is normal for a division that did not exist in a season;
* any other HTTP status fails at once;
* a download is written to a temporary file beside the raw files, checked (every byte the server
  announced arrived, and the bytes are a football-data CSV: :func:`check_source_bytes`), and only
  then renamed over the previous copy. A download that breaks off or fails the check leaves the
  previous copy exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from jackpot_pipeline.sources.leagues import (
    MAIN_LEAGUES,
    current_split_season,
    is_extra_league,
    is_split_season_key,
    source_relpath,
    split_season_key,
    split_season_start_year,
)

SNAPSHOT_MANIFEST = ".snapshots.json"
_USER_AGENT = "jackpot-pipeline/0.1 (+football-data.co.uk ingestion)"
_CHUNK = 64 * 1024
MISSING_STATUSES = frozenset({404, 410})
# 408 Request Timeout and 429 Too Many Requests say "try again later" like a 5xx does.
RETRIED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one URL: ``attempts`` in all, waiting ``first_delay`` seconds after the first
    failure and twice as long after each next one (at most ``max_delay``; a server's Retry-After is
    honoured up to that bound). ``timeout`` bounds connecting and every read."""

    attempts: int = 4
    first_delay: float = 1.0
    max_delay: float = 30.0
    timeout: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def delays(self) -> Iterable[float]:
        delay = self.first_delay
        for _ in range(self.attempts - 1):
            yield min(delay, self.max_delay)
            delay *= 2


DEFAULT_RETRY = RetryPolicy()
# season discovery probes up to a dozen URLs; a dead network must not stall it for minutes
PROBE_RETRY = RetryPolicy(attempts=3, first_delay=1.0, timeout=15.0)


@dataclass(frozen=True)
class SourceFile:
    relpath: str
    url: str


@dataclass
class FetchReport:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (url, why): the publisher lacks it
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, cause): the previous copy was kept

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [
            f"fetch: {len(self.new)} new, {len(self.changed)} changed, "
            f"{len(self.unchanged)} unchanged, {len(self.missing)} missing, {len(self.failed)} failed"
        ]
        lines += [f"  missing: {url} ({why})" for url, why in self.missing]
        lines += [f"  FAILED: {url}: {cause}" for url, cause in self.failed]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "missing": [{"url": url, "why": why} for url, why in self.missing],
            "failed": [{"url": url, "cause": cause} for url, cause in self.failed],
        }


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def source_files(base_url: str, leagues: Iterable[str], seasons: Iterable[str]) -> list[SourceFile]:
    """Every file the configuration needs; an extra league's multi-season file appears once."""
    base = base_url.rstrip("/")
    season_list = list(seasons)
    relpaths: list[str] = []
    for league in leagues:
        if is_extra_league(league):
            relpaths.append(source_relpath(league))
        else:
            relpaths.extend(source_relpath(league, season) for season in season_list)
    return [SourceFile(relpath, f"{base}/{relpath}") for relpath in dict.fromkeys(relpaths)]


class MissingSource(Exception):
    """The publisher does not have the file (HTTP 404/410, no such local file)."""

    def __init__(self, url: str, why: str):
        super().__init__(f"{url}: {why}")
        self.url = url
        self.why = why


class FetchError(RuntimeError):
    """A URL could not be fetched, after the retries its failure deserved: the URL and the cause."""

    def __init__(self, url: str, cause: str):
        super().__init__(f"{url}: {cause}")
        self.url = url
        self.cause = cause


class _Transient(Exception):
    def __init__(self, cause: str, retry_after: float | None = None):
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after


class _Permanent(Exception):
    def __init__(self, cause: str):
        super().__init__(cause)
        self.cause = cause


def _with_retries(url: str, policy: RetryPolicy, attempt: Callable[[], object]):
    """``attempt()`` until it succeeds, raises MissingSource, or fails permanently / too often."""
    delays = iter(policy.delays())
    tries = 0
    while True:
        tries += 1
        try:
            return attempt()
        except _Permanent as problem:
            raise FetchError(url, problem.cause) from None
        except _Transient as problem:
            delay = next(delays, None)
            if delay is None:
                raise FetchError(url, f"{problem.cause} (gave up after {tries} attempts)") from None
            if problem.retry_after is not None:
                delay = min(max(delay, problem.retry_after), policy.max_delay)
            policy.sleep(delay)


def _copy_url(url: str, out: BinaryIO, timeout: float) -> None:
    """Write the body at ``url`` to ``out``; raises MissingSource, _Transient or _Permanent."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        try:
            out.write(path.read_bytes())
        except FileNotFoundError:
            raise MissingSource(url, "no such file") from None
        except OSError as error:
            raise _Permanent(f"cannot read the file: {error.strerror or type(error).__name__}") from None
        return
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
            # http.client returns what arrived when the server closes early; only the length tells
            if announced is not None and announced.isdigit() and received != int(announced):
                raise _Transient(f"body cut short: {received} of {announced} bytes arrived")
    except urllib.error.HTTPError as error:
        status = f"HTTP {error.code} {error.reason}".strip()
        if error.code in MISSING_STATUSES:
            raise MissingSource(url, status) from None
        if error.code >= 500 or error.code in RETRIED_STATUSES:
            raise _Transient(status, _retry_after(error.headers.get("Retry-After"))) from None
        raise _Permanent(status) from None
    except http.client.IncompleteRead as error:
        raise _Transient(f"body cut short: {len(error.partial)} bytes arrived, more were announced") from None
    except (TimeoutError, socket.timeout):
        raise _Transient(f"timed out after {timeout:g} s") from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise _Transient(f"timed out after {timeout:g} s") from None
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
        raise _Transient(f"cannot connect: {text}") from None
    except (http.client.HTTPException, ConnectionError, OSError) as error:
        text = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise _Transient(f"connection broken: {text}") from None


def _retry_after(value: str | None) -> float | None:
    return float(value) if value and value.strip().isdigit() else None


def download(url: str, *, policy: RetryPolicy = DEFAULT_RETRY) -> bytes:
    """The bytes at ``url``, with retries. MissingSource when the publisher lacks the file,
    FetchError (URL and cause) when it cannot be had."""
    def attempt() -> bytes:
        buffer = _Buffer()
        _copy_url(url, buffer, policy.timeout)
        return bytes(buffer.data)

    return _with_retries(url, policy, attempt)


class _Buffer:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes) -> int:
        self.data += chunk
        return len(chunk)


def download_to_temporary(url: str, directory: Path, *, policy: RetryPolicy = DEFAULT_RETRY) -> Path:
    """Download ``url`` into a new hidden temporary file in ``directory`` (fsynced) and return its
    path; nothing is left behind when it fails. The caller checks it, then renames or deletes it."""
    directory.mkdir(parents=True, exist_ok=True)

    def attempt() -> Path:
        handle, name = tempfile.mkstemp(dir=directory, prefix=".fetch-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                _copy_url(url, out, policy.timeout)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)

    return _with_retries(url, policy, attempt)


def check_source_bytes(data: bytes, relpath: str) -> None:
    """Raise SourceFormatError unless ``data`` reads as a football-data CSV (not empty, not an HTML
    page, not binary, not cut off mid-line, a usable header)."""
    from jackpot_pipeline.sources.football_data import parse_source

    parse_source(data, relpath)


def write_atomically(path: Path, data: bytes) -> None:
    """Readers never see half a file: write a temp file beside the target, fsync, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        _install(Path(temp_name), path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _install(temp: Path, path: Path) -> None:
    # mkstemp creates 0600; published files are meant to be read by others (exports, raw data)
    os.chmod(temp, 0o644)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, path)


def load_snapshots(raw_dir: Path) -> dict[str, dict[str, str]]:
    manifest = raw_dir / SNAPSHOT_MANIFEST
    if not manifest.is_file():
        return {}
    return json.loads(manifest.read_text(encoding="utf-8"))


def snapshot_date(raw_dir: Path, relpath: str, sha256: str) -> dt.date:
    """When these bytes were fetched; a file placed by hand falls back to its modification time."""
    entry = load_snapshots(raw_dir).get(relpath)
    if entry and entry.get("sha256") == sha256:
        return dt.date.fromisoformat(entry["fetched_at"][:10])
    return dt.datetime.fromtimestamp((raw_dir / relpath).stat().st_mtime, tz=dt.UTC).date()


def fetch_files(
    files: Iterable[SourceFile],
    raw_dir: Path,
    *,
    progress: Callable[[str], None] | None = None,
    now: dt.datetime | None = None,
    policy: RetryPolicy = DEFAULT_RETRY,
    check: Callable[[bytes, str], None] = check_source_bytes,
) -> FetchReport:
    """Fetch every file into ``raw_dir``: new / changed / unchanged / missing / failed.

    ``check`` raises (a SourceFormatError) for bytes that must not replace the local copy.
    """
    from jackpot_pipeline.sources.football_data import SourceFormatError

    report = FetchReport()
    snapshots = load_snapshots(raw_dir)
    fetched_at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    file_list = list(files)
    for position, source in enumerate(file_list, start=1):
        target = raw_dir / source.relpath
        kept = " (the previous copy is kept)" if target.is_file() else ""
        try:
            temp = download_to_temporary(source.url, raw_dir, policy=policy)
        except MissingSource as missing:
            report.missing.append((missing.url, missing.why))
            status = f"missing ({missing.why})"
        except FetchError as failure:
            report.failed.append((failure.url, failure.cause + kept))
            status = f"FAILED: {failure.cause}{kept}"
        else:
            try:
                data = temp.read_bytes()
                digest = sha256_bytes(data)
                if target.is_file() and sha256_file(target) == digest:
                    report.unchanged.append(source.relpath)
                    status = "unchanged"
                else:
                    check(data, source.relpath)
                    bucket = report.changed if target.is_file() else report.new
                    _install(temp, target)
                    bucket.append(source.relpath)
                    snapshots[source.relpath] = {"sha256": digest, "fetched_at": fetched_at}
                    status = "changed" if bucket is report.changed else "new"
            except SourceFormatError as refused:
                cause = f"the download is not a football-data CSV: {refused.problem}{kept}"
                report.failed.append((source.url, cause))
                status = f"FAILED: {cause}"
            finally:
                temp.unlink(missing_ok=True)
        if progress:
            progress(f"[{position}/{len(file_list)}] {source.relpath}: {status}")
    if report.new or report.changed:
        write_atomically(
            raw_dir / SNAPSHOT_MANIFEST, json.dumps(snapshots, indent=1, sort_keys=True).encode()
        )
    return report


def available_seasons(
    base_url: str,
    leagues: Iterable[str],
    *,
    today: dt.date | None = None,
    lookback: int = 12,
    policy: RetryPolicy = PROBE_RETRY,
) -> list[str]:
    """Split seasons (oldest first) for which the base URL has at least one configured main league.

    A local tree is listed; a remote site is probed from the current season backwards (404 = not
    there). Raises FetchError when the base URL cannot be reached or answers with errors: an
    unreachable publisher is not a publisher without seasons.
    """
    main_leagues = [league for league in leagues if league in MAIN_LEAGUES] or ["E0"]
    parsed = urllib.parse.urlparse(base_url)
    if parsed.scheme == "file":
        base = Path(urllib.request.url2pathname(parsed.path))
        if not base.is_dir():
            raise FetchError(base_url, "no such directory")
        root = base / "mmz4281"
        seasons = [
            entry.name
            for entry in (root.iterdir() if root.is_dir() else [])
            if entry.is_dir() and is_split_season_key(entry.name)
            and any((entry / f"{league}.csv").is_file() for league in main_leagues)
        ]
        return sorted(seasons, key=split_season_start_year)
    newest = split_season_start_year(current_split_season(today or dt.date.today()))
    found = []
    for start in range(newest, newest - lookback, -1):
        season = split_season_key(start)
        if probe(f"{base_url.rstrip('/')}/{source_relpath(main_leagues[0], season)}", policy=policy):
            found.append(season)
    return sorted(found, key=split_season_start_year)


def probe(url: str, *, policy: RetryPolicy = PROBE_RETRY) -> bool:
    """Whether the server has ``url`` (HEAD; 404/410 = no). FetchError when it cannot tell."""

    def attempt() -> bool:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": _USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=policy.timeout):
                return True
        except urllib.error.HTTPError as error:
            status = f"HTTP {error.code} {error.reason}".strip()
            if error.code in MISSING_STATUSES:
                return False
            if error.code >= 500 or error.code in RETRIED_STATUSES:
                raise _Transient(status, _retry_after(error.headers.get("Retry-After"))) from None
            raise _Permanent(status) from None
        except (TimeoutError, socket.timeout):
            raise _Transient(f"timed out after {policy.timeout:g} s") from None
        except urllib.error.URLError as error:
            reason = error.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
            raise _Transient(f"cannot connect: {text}") from None
        except (http.client.HTTPException, ConnectionError, OSError) as error:
            raise _Transient(f"connection broken: {type(error).__name__}") from None

    return _with_retries(url, policy, attempt)
