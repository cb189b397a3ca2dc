"""The planner's view of the world, read from the Dagster instance and the data folders.

Data versions come from the instance's indexed ``dagster/data_version`` tags (one query per asset). The
fingerprint a stage recorded is an unindexed tag, so it is read from the latest materialization record of
each partition; records never change once written, so they are cached by storage id for the life of the
process (a sensor's code server keeps them between ticks).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from jackpot_pipeline.defs.batch import DATA_VERSION_TAG, FINGERPRINT_TAG
from jackpot_pipeline.defs.partitions import jackpot_partitions, league_season_partitions
from jackpot_pipeline.jackpots.cards import RESULTS_SUFFIX, load_cards
from jackpot_pipeline.planning.stages import PipelineState, Stage, season_start
from jackpot_pipeline.sources.catalog import league_and_season_of, partitions_of_file, source_relpaths
from jackpot_pipeline.sources.fetch import sha256_file
from jackpot_pipeline.sources.football_data import SourceFormatError
from jackpot_pipeline.sources.ingest import absent_slice_version
from jackpot_pipeline.sources.leagues import season_selected
from jackpot_pipeline.warehouse.store import Warehouse

IN_PROGRESS = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
               DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
CLI_PID_TAG = "jackpot/cli_pid"
CLI_HOST_TAG = "jackpot/cli_host"

_fingerprint_cache: dict[tuple[str, int], str | None] = {}
_cache_lock = threading.Lock()


# --- source files ----------------------------------------------------------------------------------


@dataclass
class SourceScan:
    """League × season partitions of the files in the raw folder, with each slice's data version.

    ``cache`` (``{relpath: {"stat": [mtime_ns, size], "sha256": ..., "slices": {season: data_version}}}``)
    lets a sensor skip files whose size and modification time did not change since its last tick.
    """

    versions: dict[str, str] = field(default_factory=dict)  # "E0|2324" -> data version
    relpaths: dict[str, str] = field(default_factory=dict)  # "E0|2324" -> relpath
    files: dict[str, str] = field(default_factory=dict)  # league of a multi-season file -> the file's sha256
    problems: list[str] = field(default_factory=list)
    cache: dict[str, dict] = field(default_factory=dict)


def scan_sources(raw_dir: Path, leagues: Sequence[str] = (), seasons: Sequence[str] = (),
                 cache: Mapping[str, dict] | None = None) -> SourceScan:
    scan = SourceScan()
    cache = cache or {}
    for relpath in source_relpaths(raw_dir):
        league, _ = league_and_season_of(relpath)  # type: ignore[misc]
        if leagues and league not in leagues:
            continue
        path = raw_dir / relpath
        stat = path.stat()
        known = cache.get(relpath)
        if known and known.get("stat") == [stat.st_mtime_ns, stat.st_size]:
            entry = known
        else:
            sha256 = sha256_file(path)
            if known and known.get("sha256") == sha256:
                entry = {**known, "stat": [stat.st_mtime_ns, stat.st_size]}
            else:
                try:
                    slices = {p.season: p.data_version for p in partitions_of_file(raw_dir, relpath)}
                except SourceFormatError as error:
                    scan.problems.append(str(error))
                    slices = {}
                entry = {"stat": [stat.st_mtime_ns, stat.st_size], "sha256": sha256, "slices": slices}
        scan.cache[relpath] = entry
        if relpath.startswith("new/"):
            scan.files[league] = entry["sha256"]
        for season, version in entry["slices"].items():
            if seasons and not season_selected(league, season, list(seasons)):
                continue
            scan.versions[f"{league}|{season}"] = version
            scan.relpaths[f"{league}|{season}"] = relpath
    return scan


@dataclass
class CardScan:
    cards: dict[str, str] = field(default_factory=dict)  # jackpot_id -> card sha256
    results: dict[str, str] = field(default_factory=dict)  # jackpot_id -> results file sha256
    paths: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def with_dropped_slices(scan: SourceScan, known: Iterable[str]) -> SourceScan:
    """``scan`` plus the known partitions of a multi-season file that no longer holds them: ingesting such a
    partition stores it empty and withdraws its matches (a revision that removed a season)."""
    dropped = {}
    for key in known:
        league = key.split("|", 1)[0]
        if key not in scan.versions and league in scan.files:
            dropped[key] = absent_slice_version(scan.files[league])
    if not dropped:
        return scan
    return SourceScan({**scan.versions, **dropped}, scan.relpaths, scan.problems, scan.cache, scan.files)


def scan_cards(folder: Path) -> CardScan:
    scan = CardScan()
    cards, errors = load_cards(folder)
    scan.problems = [str(error) for error in errors]
    for card in cards:
        scan.cards[card.jackpot_id] = card.sha256
        scan.paths[card.jackpot_id] = card.source_path
        results = card.source_path.with_name(card.source_path.stem + RESULTS_SUFFIX)
        if results.is_file():
            scan.results[card.jackpot_id] = sha256_file(results)
    return scan


# --- the instance ----------------------------------------------------------------------------------


def latest_data_versions(instance: DagsterInstance, asset: str, partitioned: bool) -> dict[str | None, str]:
    key = AssetKey(asset)
    if partitioned:
        tags = instance.event_log_storage.get_latest_tags_by_partition(
            key, DagsterEventType.ASSET_MATERIALIZATION, [DATA_VERSION_TAG]
        )
        return {partition: values[DATA_VERSION_TAG] for partition, values in tags.items() if DATA_VERSION_TAG in values}
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event else None
    version = (materialization.tags or {}).get(DATA_VERSION_TAG) if materialization else None
    return {None: version} if version else {}


def latest_fingerprints(instance: DagsterInstance, asset: str, partitioned: bool) -> dict[str | None, str]:
    key = AssetKey(asset)
    if partitioned:
        storage_ids = instance.event_log_storage.get_latest_storage_id_by_partition(
            key, DagsterEventType.ASSET_MATERIALIZATION
        )
    else:
        records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=1).records
        storage_ids = {None: records[0].storage_id} if records else {}  # type: ignore[dict-item]
    cache_key = str(instance.root_directory)
    missing = [sid for sid in storage_ids.values() if (cache_key, sid) not in _fingerprint_cache]
    for chunk in (missing[i:i + 500] for i in range(0, len(missing), 500)):
        records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, storage_ids=chunk), limit=len(chunk)).records
        with _cache_lock:
            for record in records:
                tags = record.asset_materialization.tags if record.asset_materialization else {}
                _fingerprint_cache[(cache_key, record.storage_id)] = (tags or {}).get(FINGERPRINT_TAG)
    found = {}
    for partition, sid in storage_ids.items():
        fingerprint = _fingerprint_cache.get((cache_key, sid))
        if fingerprint:
            found[partition] = fingerprint
    return found


def read_state(
    instance: DagsterInstance,
    stages: Iterable[Stage],
    *,
    sources: Mapping[str, str],
    cards: CardScan | None = None,
    configured: Iterable[str] | None = None,
    extra_league_seasons: Sequence[str] = (),
    extra_jackpots: Sequence[str] = (),
    store: Warehouse | None = None,
) -> PipelineState:
    """The state the planner needs: every asset's versions, every stage's recorded fingerprints. ``extra_*``:
    partition keys about to be added (after the instance's own, in that order). With ``store``, a partition
    whose warehouse file is gone counts as never materialised (someone deleted it: it is recomputed)."""
    stages = list(stages)
    league_seasons = (*instance.get_dynamic_partitions(league_season_partitions.name), *extra_league_seasons)
    jackpots = (*instance.get_dynamic_partitions(jackpot_partitions.name), *extra_jackpots)
    versions, fingerprints = {}, {}
    for stage in stages:
        partitioned = stage.scope != "global"
        for asset in stage.assets:
            versions[asset] = latest_data_versions(instance, asset, partitioned)
        fingerprints[stage.name] = latest_fingerprints(instance, stage.assets[0], partitioned)
        if store is not None:
            fingerprints[stage.name] = {partition: fingerprint for partition, fingerprint in fingerprints[stage.name].items()
                                        if stored(store, stage, partition)}
    cards = cards or CardScan()
    return PipelineState(
        league_seasons=league_seasons,
        configured=frozenset(configured) if configured is not None else None,
        jackpots=tuple(j for j in jackpots if j in cards.cards),
        files={"source": dict(sources), "card": dict(cards.cards), "results": dict(cards.results)},
        versions=versions,
        fingerprints=fingerprints,
    )


def stored(store: Warehouse, stage: Stage, partition: str | None) -> bool:
    """Whether the warehouse holds every table the stage writes for ``partition``."""
    for asset in stage.assets:
        if asset not in store.tables:
            continue  # not a warehouse table (exports, published copies)
        layout = store.tables[asset].layout
        if layout == "append":
            found = store.exists(asset)
        else:
            found = store.path(asset, None if layout == "whole" else partition).is_file()
        if not found:
            return False
    return True


def add_partitions(instance: DagsterInstance, league_seasons: Iterable[str] = (), jackpots: Iterable[str] = ()) -> None:
    """Add the partition keys the instance lacks, league × seasons in league then season order."""
    for definition, keys in ((league_season_partitions, league_seasons), (jackpot_partitions, jackpots)):
        known = set(instance.get_dynamic_partitions(definition.name))
        new = sorted(set(keys) - known, key=partition_key_order)
        if new:
            instance.add_dynamic_partitions(definition.name, new)


def partition_key_order(key: str) -> tuple[str, str, str]:
    """League × season keys by league, then season start (calendar and split keys compare right)."""
    if "|" not in key:
        return (key, "", "")
    return (key.split("|", 1)[0], str(season_start(key) or ""), key)


def runs_in_progress(instance: DagsterInstance) -> list:
    """Runs queued or going on; a run of a ``make run`` process that died is marked failed first."""
    runs = instance.get_runs(filters=RunsFilter(statuses=IN_PROGRESS), limit=100)
    alive = []
    for run in runs:
        pid, host = run.tags.get(CLI_PID_TAG), run.tags.get(CLI_HOST_TAG)
        if pid and host == socket.gethostname() and not _process_alive(int(pid)):
            instance.report_run_failed(run, f"the make run process {pid} that ran it is gone")
            continue
        alive.append(run)
    return alive


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def current_inputs(
    instance: DagsterInstance,
    stage: Stage,
    partitions: Sequence[str | None],
    files: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str | None, tuple[str, dict[str, str | None]]]:
    """{partition: (fingerprint, inputs)} of ``stage`` as the planner computes them now: what an asset
    records with its materialization, so the planner finds it current afterwards."""
    from jackpot_pipeline.planning.pipeline import stage_of_asset
    from jackpot_pipeline.planning.stages import FILE_INPUTS

    versions = {
        asset: latest_data_versions(instance, asset, stage_of_asset(asset).scope != "global")
        for asset in stage.reads if asset not in FILE_INPUTS
    }
    state = PipelineState(
        league_seasons=tuple(instance.get_dynamic_partitions(league_season_partitions.name)),
        files=files or {}, versions=versions,
    )
    found = {}
    for partition in partitions:
        inputs = stage.inputs(partition, state)
        found[partition] = (stage.fingerprint(inputs), inputs)
    return found
