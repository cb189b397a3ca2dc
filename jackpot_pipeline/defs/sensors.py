"""``new_csv_sensor``: watches ``data/raw/`` and ``data/jackpots/`` and keeps every downstream partition
current, by the same plan ``make run`` follows (:mod:`jackpot_pipeline.defs.orchestration`).

Each tick, unless a run is still going: scan the files (a file whose size and modification time did not
change is not read again), plan, request the next runs. One changed file gives one run covering that
partition's ingestion, walk-forward, predictions and validation; many changes give batched runs, stage
by stage. A run that failed is not requested again until its inputs change (the cursor remembers what
was tried), and run keys keep the daemon from launching the same work twice.
"""

import json

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from jackpot_pipeline.defs.jackpots.resources import JackpotFilesResource
from jackpot_pipeline.defs.orchestration import (
    PIPELINE_JOBS,
    PUBLISH_JOBS,
    attempts_of,
    decode_attempts,
    encode_attempts,
    pipeline_stages,
    plan_runs,
    run_key_used,
    run_request,
)
from jackpot_pipeline.defs.partitions import jackpot_partitions, league_season_partitions
from jackpot_pipeline.defs.publish.resources import PostgresResource
from jackpot_pipeline.defs.resources import RawFilesResource, WarehouseResource
from jackpot_pipeline.defs.state import runs_in_progress, scan_cards, scan_sources


def plan_tick(context: SensorEvaluationContext, raw_files: RawFilesResource, jackpot_files: JackpotFilesResource,
              postgres: PostgresResource, warehouse: WarehouseResource):
    cursor = json.loads(context.cursor) if context.cursor else {}
    in_progress = runs_in_progress(context.instance)
    if in_progress:
        return SkipReason(f"{len(in_progress)} run(s) in progress; planning again when they finish")
    sources = scan_sources(raw_files.root, raw_files.leagues, raw_files.seasons, cursor.get("files"))
    for problem in sources.problems:
        context.log.error(problem)
    cards = scan_cards(jackpot_files.root)
    for problem in cards.problems:
        context.log.error(f"card skipped: {problem}")
    target = None
    if postgres.dsn:
        with postgres.connect() as connection:
            target = postgres.target(connection)
    stages = pipeline_stages(target)
    attempts = decode_attempts(cursor.get("attempts", {}))
    planned = plan_runs(context.instance, stages, sources, cards, attempts, store=warehouse.store)
    runs = [run for run in planned.runs if not run_key_used(context.instance, run.run_key)]
    failed = {(work.stage, work.partition): work.fingerprint for work in planned.plan.failed}
    next_cursor = json.dumps({"files": sources.cache, "attempts": encode_attempts({**failed, **attempts_of(runs)})},
                             sort_keys=True)
    additions = []
    if planned.new_league_seasons:
        additions.append(AddDynamicPartitionsRequest(league_season_partitions.name, planned.new_league_seasons))
    if planned.new_jackpots:
        additions.append(AddDynamicPartitionsRequest(jackpot_partitions.name, planned.new_jackpots))
    if not runs and not additions:
        note = "; ".join(f"{w.stage} {w.partition or ''} failed earlier with the same inputs".strip()
                         for w in planned.plan.failed[:5])
        return SensorResult(skip_reason=SkipReason("everything is current" + (f" (left alone: {note})" if note else "")),
                            cursor=next_cursor)
    for run in runs:
        context.log.info(f"requesting {run.label()}")
    return SensorResult(run_requests=[run_request(run, stages) for run in runs], dynamic_partitions_requests=additions,
                        cursor=next_cursor)


def build_pipeline_sensor(publishing: bool):
    """The sensor, targeting the publishing jobs too when they are part of the code location."""

    @sensor(
        name="new_csv_sensor",
        jobs=[*PIPELINE_JOBS, *(PUBLISH_JOBS if publishing else [])],
        minimum_interval_seconds=10,
        default_status=DefaultSensorStatus.RUNNING,
        description="Watches data/raw/ and data/jackpots/ and runs whatever is stale: ingestion of new or changed CSVs, "
        "then walk-forward, calibration, predictions, validation, the summary tables, jackpot cards (and publishing "
        "when PostgreSQL is configured), batched, by the same plan as make run.",
    )
    def new_csv_sensor(context: SensorEvaluationContext, raw_files: RawFilesResource, jackpot_files: JackpotFilesResource,
                       postgres: PostgresResource, warehouse: WarehouseResource):
        return plan_tick(context, raw_files, jackpot_files, postgres, warehouse)

    return new_csv_sensor


new_csv_sensor = build_pipeline_sensor(publishing=False)
