"""``new_csv_sensor``: one ingestion run per new or changed football-data file in ``data/raw/``."""


import json
from pathlib import Path

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    MultiPartitionKey,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)

from jackpot_pipeline.defs.ingestion.assets import ingest_league_season
from jackpot_pipeline.defs.resources import RawFilesResource
from jackpot_pipeline.sources.catalog import partitions_of_file, source_relpaths
from jackpot_pipeline.sources.fetch import sha256_file
from jackpot_pipeline.sources.football_data import SourceFormatError

ingest_job = define_asset_job(
    "ingest_job",
    selection=[ingest_league_season],
    description="Ingest one league × season partition into the warehouse.",
)


def plan_ingestion_runs(raw_dir: Path, cursor: dict[str, dict[str, str]], existing_leagues: set[str], existing_seasons: set[str]):
    """Pure planning for the sensor: runs to request, partitions to add and the next cursor.

    Cursor: ``{relpath: {"sha256": ..., "slices": {season: fingerprint}}}``. A main-league file is one
    partition; a ``new/`` file re-runs only the seasons whose slice changed. Run keys carry the file's
    sha256 and modification time, so an unchanged file never runs again but a file edited back to an
    earlier content does (its mtime is new).
    """
    requests: list[RunRequest] = []
    new_cursor: dict[str, dict[str, object]] = {}
    leagues: set[str] = set()
    seasons: set[str] = set()
    problems: list[str] = []
    for relpath in source_relpaths(raw_dir):
        path = raw_dir / relpath
        sha256 = sha256_file(path)
        known = cursor.get(relpath, {})
        if known.get("sha256") == sha256:
            new_cursor[relpath] = known
            continue
        try:
            partitions = partitions_of_file(raw_dir, relpath)
        except SourceFormatError as error:
            # still run it: the run fails with this message in the UI instead of the sensor going quiet
            problems.append(str(error))
            partitions = []
        previous_slices = known.get("slices", {})
        slices = {}
        for partition in partitions:
            slices[partition.season] = partition.fingerprint
            leagues.add(partition.league)
            seasons.add(partition.season)
            if previous_slices.get(partition.season) == partition.fingerprint:
                continue
            requests.append(
                RunRequest(
                    run_key=f"{relpath}:{sha256}:{path.stat().st_mtime_ns}:{partition.season}",
                    partition_key=MultiPartitionKey({"league": partition.league, "season": partition.season}),
                    tags={"jackpot/source_path": relpath, "jackpot/source_sha256": sha256},
                )
            )
        new_cursor[relpath] = {"sha256": sha256, "slices": slices}
    additions = []
    if leagues - existing_leagues:
        additions.append(AddDynamicPartitionsRequest("league", sorted(leagues - existing_leagues)))
    if seasons - existing_seasons:
        additions.append(AddDynamicPartitionsRequest("season", sorted(seasons - existing_seasons)))
    return requests, additions, new_cursor, problems


@sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches data/raw/ and ingests every new or changed football-data CSV.",
)
def new_csv_sensor(context: SensorEvaluationContext, raw_files: RawFilesResource):
    cursor = json.loads(context.cursor) if context.cursor else {}
    requests, additions, new_cursor, problems = plan_ingestion_runs(
        raw_files.root,
        cursor,
        set(context.instance.get_dynamic_partitions("league")),
        set(context.instance.get_dynamic_partitions("season")),
    )
    for problem in problems:
        context.log.error(problem)
    if not requests and not additions:
        return SensorResult(skip_reason=SkipReason("no new or changed file in data/raw"), cursor=json.dumps(new_cursor, sort_keys=True))
    return SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=additions,
        cursor=json.dumps(new_cursor, sort_keys=True),
    )
