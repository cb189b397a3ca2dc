"""Byte-for-byte download of football-data.co.uk files into ``data/raw/`` (same layout as the site).

``file://`` base URLs work exactly like ``https://`` ones, which is how tests and offline machines
use the shared copy of the publisher's files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jackpot_pipeline.sources.leagues import (
    MAIN_LEAGUES,
    current_split_season,
    is_extra_league,
    split_season_key,
    split_season_start_year,
    source_relpath,
)

SNAPSHOT_MANIFEST = ".snapshots.json"
_TIMEOUT_SECONDS = 60
_PROBE_TIMEOUT_SECONDS = 15  # season discovery probes up to 12 URLs; a dead network must not stall it for long
_USER_AGENT = "jackpot-pipeline/0.1 (+football-data.co.uk ingestion)"


@dataclass(frozen=True)
class SourceFile:
    relpath: str
    url: str


@dataclass
class FetchReport:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (url, why)

    def summary(self) -> str:
        lines = [
            f"fetch: {len(self.new)} new, {len(self.changed)} changed, "
            f"{len(self.unchanged)} unchanged, {len(self.missing)} missing"
        ]
        lines += [f"  missing: {url} ({why})" for url, why in self.missing]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "missing": [{"url": url, "why": why} for url, why in self.missing],
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
    def __init__(self, url: str, why: str):
        super().__init__(f"{url}: {why}")
        self.url = url
        self.why = why


def download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        raise MissingSource(url, f"HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, FileNotFoundError) or "No such file" in str(reason):
            raise MissingSource(url, "no such file") from None
        raise MissingSource(url, f"cannot reach: {reason}") from None
    except OSError as error:
        raise MissingSource(url, str(error)) from None


def write_atomically(path: Path, data: bytes) -> None:
    """Readers never see half a file: write a temp file beside the target, fsync, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        # mkstemp creates 0600; published files are meant to be read by others (exports, raw data)
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


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
) -> FetchReport:
    report = FetchReport()
    snapshots = load_snapshots(raw_dir)
    fetched_at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    file_list = list(files)
    for position, source in enumerate(file_list, start=1):
        target = raw_dir / source.relpath
        try:
            data = download(source.url)
        except MissingSource as missing:
            report.missing.append((missing.url, missing.why))
            status = f"missing ({missing.why})"
        else:
            digest = sha256_bytes(data)
            if target.is_file() and sha256_file(target) == digest:
                report.unchanged.append(source.relpath)
                status = "unchanged"
            else:
                bucket = report.changed if target.is_file() else report.new
                write_atomically(target, data)
                bucket.append(source.relpath)
                snapshots[source.relpath] = {"sha256": digest, "fetched_at": fetched_at}
                status = "changed" if bucket is report.changed else "new"
        if progress:
            progress(f"[{position}/{len(file_list)}] {source.relpath}: {status}")
    if report.new or report.changed:
        write_atomically(
            raw_dir / SNAPSHOT_MANIFEST, json.dumps(snapshots, indent=1, sort_keys=True).encode()
        )
    return report


def available_seasons(
    base_url: str, leagues: Iterable[str], *, today: dt.date | None = None, lookback: int = 12
) -> list[str]:
    """Split seasons (oldest first) for which the base URL has at least one configured main league.

    A local tree is listed; a remote site is probed from the current season backwards.
    """
    main_leagues = [league for league in leagues if league in MAIN_LEAGUES] or ["E0"]
    parsed = urllib.parse.urlparse(base_url)
    if parsed.scheme == "file":
        root = Path(urllib.request.url2pathname(parsed.path)) / "mmz4281"
        seasons = [
            entry.name
            for entry in root.iterdir()
            if entry.is_dir() and any((entry / f"{league}.csv").is_file() for league in main_leagues)
        ] if root.is_dir() else []
        return sorted(seasons, key=split_season_start_year)
    newest = split_season_start_year(current_split_season(today or dt.date.today()))
    found = []
    for start in range(newest, newest - lookback, -1):
        season = split_season_key(start)
        url = f"{base_url.rstrip('/')}/{source_relpath(main_leagues[0], season)}"
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": _USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=_PROBE_TIMEOUT_SECONDS):
                found.append(season)
        except (urllib.error.URLError, OSError):
            continue
    return sorted(found, key=split_season_start_year)
