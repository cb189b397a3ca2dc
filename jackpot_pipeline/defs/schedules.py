"""``weekly_fetch_schedule``: Sunday 02:00 UTC, download the configured files from the publisher; the
sensor then refreshes whatever changed (new matches refit that league's latest season, and so on)."""

from dagster import DefaultScheduleStatus, OpExecutionContext, ScheduleDefinition, job, op

from jackpot_pipeline.settings import load_settings
from jackpot_pipeline.sources.fetch import fetch_files, source_files


@op(description="Download the configured football-data files into data/raw (unchanged files are left alone).")
def fetch_configured_files(context: OpExecutionContext) -> None:
    settings = load_settings()
    files = source_files(settings.base_url, settings.leagues, settings.seasons())
    report = fetch_files(files, settings.raw_dir, progress=context.log.info)
    context.log.info(report.summary())


@job(description="Fetch the configured football-data files; the sensor ingests what changed.")
def fetch_job():
    fetch_configured_files()


weekly_fetch_schedule = ScheduleDefinition(
    name="weekly_fetch_schedule", job=fetch_job, cron_schedule="0 2 * * 0", execution_timezone="UTC", default_status=DefaultScheduleStatus.RUNNING,
    description="Sunday 02:00 UTC: fetch the configured files; new_csv_sensor refreshes every partition they change.",
)
