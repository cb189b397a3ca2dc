"""Weekly refit and revalidation.

Sunday 02:00 UTC the schedule launches one run per league for its latest season: every league × season
asset of the "modeling" and "validation" groups (walk-forward fits, match predictions, validation
report). A schedule targets one job, and one job cannot mix partitions definitions, so the unpartitioned
assets of those groups (summary, registry, training runs, freshness) follow in a second job, launched by
a sensor once every run of that week's batch has finished. The season-partitioned calibration maps are
fitted on data before each season starts and do not change week to week; the modeling automation keeps
them current.
"""

from __future__ import annotations

import datetime as dt

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    MultiPartitionKey,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from jackpot_pipeline.sources.leagues import SeasonError, check_season_key, season_window

WEEKLY_GROUPS = ("modeling", "validation")
WEEKLY_BATCH_TAG = "jackpot/weekly_refit"
_GROUPS = " or ".join(f'group:"{group}"' for group in WEEKLY_GROUPS)
CANONICAL = AssetKey("canonical_matches")

weekly_refit_job = define_asset_job(
    "weekly_refit_job",
    selection=AssetSelection.from_string(f'({_GROUPS}) and partitions:"multipartitions"'),
    description="Refit, re-predict and revalidate one league × season (league × season assets of the modeling "
    "and validation groups).",
)
weekly_summary_job = define_asset_job(
    "weekly_summary_job",
    selection=AssetSelection.from_string(f'({_GROUPS}) and partitions:"none"'),
    description="Unpartitioned validation: headline summary, model registry, training runs, data freshness.",
)


def latest_season_partitions(instance: DagsterInstance) -> list[MultiPartitionKey]:
    """Per league of the instance's dynamic partitions, its latest season holding data.

    A (league, season) key holds data when its canonical_matches partition was materialised with rows
    (ingestion versions empty partitions ``empty-...``); seasons are ordered by their window's start, so
    calendar-year and split-season keys of the extra leagues compare correctly."""
    leagues = instance.get_dynamic_partitions("league")
    seasons = instance.get_dynamic_partitions("season")
    versions = instance.event_log_storage.get_latest_tags_by_partition(
        CANONICAL, DagsterEventType.ASSET_MATERIALIZATION, ["dagster/data_version"]
    )
    with_data = {key for key, tags in versions.items() if not str(tags.get("dagster/data_version", "")).startswith("empty-")}
    latest = []
    for league in sorted(leagues):
        starts = []
        for season in seasons:
            if f"{league}|{season}" not in with_data:
                continue
            try:
                check_season_key(league, season)
                starts.append((season_window(league, season).first_day, season))
            except SeasonError:
                continue
        if starts:
            latest.append(MultiPartitionKey({"league": league, "season": max(starts)[1]}))
    return latest


@schedule(
    job=weekly_refit_job,
    cron_schedule="0 2 * * 0",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Sunday 02:00 UTC: refit and revalidate the latest season of every league; the unpartitioned "
    "summary and registry follow through weekly_summary_sensor.",
)
def weekly_refit_schedule(context: ScheduleEvaluationContext):
    partitions = latest_season_partitions(context.instance)
    if not partitions:
        return SkipReason("no league × season partition holds ingested matches yet")
    scheduled = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    batch = scheduled.strftime("%Y-%m-%dT%H:%M")
    return [
        RunRequest(run_key=f"{batch}:{key}", partition_key=key, tags={WEEKLY_BATCH_TAG: batch})
        for key in partitions
    ]


@sensor(
    job=weekly_summary_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description="Once every run of the latest weekly refit batch has finished (whatever its outcome), one run of "
    "the unpartitioned validation assets.",
)
def weekly_summary_sensor(context: SensorEvaluationContext):
    runs = context.instance.get_runs(filters=RunsFilter(job_name=weekly_refit_job.name), limit=500)
    batches: dict[str, list] = {}
    for run in runs:
        batch = run.tags.get(WEEKLY_BATCH_TAG)
        if batch:
            batches.setdefault(batch, []).append(run)
    if not batches:
        return SkipReason("no weekly refit has run yet")
    batch = max(batches)
    if batch == context.cursor:
        return SkipReason(f"batch {batch} already summarised")
    unfinished = [run for run in batches[batch] if not run.is_finished]
    if unfinished:
        return SkipReason(f"batch {batch}: {len(unfinished)} of {len(batches[batch])} runs still going")
    failed = sum(1 for run in batches[batch] if not run.is_success)
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"summary:{batch}",
                tags={WEEKLY_BATCH_TAG: batch, "jackpot/refit_runs": str(len(batches[batch])), "jackpot/refit_failures": str(failed)},
            )
        ],
        cursor=batch,
    )


validation_schedules = [weekly_refit_schedule]
validation_sensors = [weekly_summary_sensor]
validation_jobs = [weekly_refit_job, weekly_summary_job]
