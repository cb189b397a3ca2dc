"""``make run``'s engine: plan, run in-process against the instance, plan again, until nothing is stale.

The runs are the ones the sensor would request (same plan, same jobs, same tags); they execute in this
process instead of being launched by the daemon. Runs the daemon launched are waited for before each
plan, so the two never compute the same partitions at once.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance, Definitions

from jackpot_pipeline.defs.orchestration import (
    asset_selection,
    attempts_of,
    cli_tags,
    job_name,
    pipeline_stages,
    plan_runs,
    run_tags,
)
from jackpot_pipeline.defs.publish import ROLE_PREFIX_VARIABLE, PostgresResource, postgres_enabled
from jackpot_pipeline.defs.state import add_partitions, partition_key_order, runs_in_progress, scan_cards, scan_sources
from jackpot_pipeline.console import RunDisplay
from jackpot_pipeline.planning.plan import RunPlan
from jackpot_pipeline.publish.instance import DSN_VARIABLE
from jackpot_pipeline.run_summary import RunRecord
from jackpot_pipeline.settings import Settings
from jackpot_pipeline.sources.leagues import expand_seasons
from jackpot_pipeline.steps.parallel import keep_workers_between_batches
from jackpot_pipeline.steps.progress import listening
from jackpot_pipeline.warehouse.store import Warehouse

def run_config(console_log_level: str) -> dict:
    """The run's events still reach the instance (and the UI); only the console echo is quietened."""
    return {"loggers": {"console": {"config": {"log_level": console_log_level}}}}


QUIET_RUN_CONFIG = run_config("ERROR")


@dataclass
class RunOutcome:
    runs: list[dict[str, object]] = field(default_factory=list)  # label, stages, partitions, seconds, success
    failed: dict[str, str] = field(default_factory=dict)  # run label -> error
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    check_warnings: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)  # stale work that failed earlier with the same inputs
    stage_partitions: dict[str, int] = field(default_factory=dict)  # stage -> partitions computed
    configured: list[str] = field(default_factory=list)  # league × season partitions with a source file
    stage_done: dict[str, list[str | None]] = field(default_factory=dict)  # stage -> partitions stored this time
    stage_failed: dict[str, list[str | None]] = field(default_factory=dict)  # stage -> partitions that failed
    left_alone_work: list[tuple[str, str | None]] = field(default_factory=list)  # (stage, partition)

    @property
    def success(self) -> bool:
        return not self.failed and not self.checks_failed

    def record(self, *, seconds: float, fetch: str | None) -> RunRecord:
        """What the summary keeps of this run."""
        left_alone_ingest = [p for stage, p in self.left_alone_work if stage == "ingest" and p]
        return RunRecord(
            finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), seconds=round(seconds, 1),
            runs=len(self.runs), failed_runs=dict(self.failed), checks_passed=self.checks_passed,
            checks_failed=list(self.checks_failed), check_warnings=list(self.check_warnings),
            skipped_files=list(self.skipped_files), left_alone=list(self.left_alone), fetch=fetch,
            configured=list(self.configured), ingested=list(dict.fromkeys(p for p in self.stage_done.get("ingest", []) if p)),
            ingest_failed=sorted({*(p for p in self.stage_failed.get("ingest", []) if p), *left_alone_ingest},
                                 key=partition_key_order),
            stages={stage: {"done": len(self.stage_done.get(stage, [])), "failed": len(self.stage_failed.get(stage, []))}
                    for stage in dict.fromkeys([*self.stage_done, *self.stage_failed])},
        )


def failure_message(result) -> str:
    """The user-facing error of a failed in-process run: Dagster's wrappers skipped, the first error of ours
    (or of a library) kept, since that one says what went wrong."""
    failure = next((e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE), None)
    if failure is None:
        return "run failed before any step ran"
    error = failure.event_specific_data.error
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    message = error.message.strip()
    # a step that names its failed partitions raises Failure: its description is the message
    return message.removeprefix("dagster._core.definitions.events.Failure: ")


def wait_for_daemon_runs(instance: DagsterInstance, log: Callable[[str], None], timeout: float = 3600.0) -> None:
    started, announced = time.monotonic(), False
    while (running := runs_in_progress(instance)) and time.monotonic() - started < timeout:
        if not announced:
            log(f"waiting for {len(running)} run(s) launched by the daemon to finish")
            announced = True
        time.sleep(1.0)


def publish_target() -> str | None:
    """The identity of the PostgreSQL database to publish to (None when publishing is off)."""
    if not postgres_enabled():
        return None
    resource = PostgresResource(dsn=os.environ[DSN_VARIABLE], role_prefix=os.environ.get(ROLE_PREFIX_VARIABLE, ""))
    with resource.connect() as connection:
        resource.prepare(connection)
        return resource.target(connection)


def run_pipeline(
    defs: Definitions,
    settings: Settings,
    instance: DagsterInstance,
    *,
    log: Callable[[str], None] | None = None,
    max_rounds: int = 50,
    display: RunDisplay | None = None,
    console_log_level: str = "ERROR",
) -> RunOutcome:
    """Bring every configured partition up to date; returns what ran and what failed.

    ``display`` hears what is planned, each run starting and finishing (its partitions report themselves
    through :mod:`jackpot_pipeline.steps.progress`); the default prints one line per run through ``log``."""
    display = display or RunDisplay(log or print)
    outcome = RunOutcome()
    keep_workers_between_batches()
    seasons = expand_seasons(settings.seasons_spec) if settings.seasons_spec else settings.seasons()
    sources = scan_sources(settings.raw_dir, settings.leagues, seasons)
    cards = scan_cards(settings.jackpots_dir)
    outcome.skipped_files = [*sources.problems, *(f"card: {p}" for p in cards.problems)]
    outcome.configured = sorted(sources.versions, key=partition_key_order)
    add_partitions(instance, sources.versions, cards.cards)
    stages = pipeline_stages(publish_target())
    attempts: dict = {}
    for _ in range(max_rounds):
        wait_for_daemon_runs(instance, display.message)
        planned = plan_runs(instance, stages, sources, cards, attempts, store=Warehouse(settings.warehouse_root))
        display.planned(planned.plan.counts())
        if not planned.runs:
            outcome.left_alone = [f"{w.stage} {w.partition or ''}".strip() for w in planned.plan.failed]
            outcome.left_alone_work = [(w.stage, w.partition) for w in planned.plan.failed]
            break
        for run in planned.runs:
            _execute(defs, instance, run, stages, outcome, display, console_log_level)
        attempts.update(attempts_of(planned.runs))
    return outcome


def _execute(defs: Definitions, instance: DagsterInstance, run: RunPlan, stages, outcome: RunOutcome,
             display: RunDisplay, console_log_level: str) -> None:
    started = time.perf_counter()
    display.run_started(run.label(), run.stages, run.partitions)
    job = defs.resolve_job_def(job_name(run))
    with listening(display.partitions_finished):
        result = job.execute_in_process(
            instance=instance,
            partition_key=run.first if len(run.partitions) == 1 else None,
            asset_selection=asset_selection(run, stages),
            tags={**run_tags(run, "make run"), **cli_tags()},
            run_config=run_config(console_log_level),
            raise_on_error=False,
        )
    seconds = time.perf_counter() - started
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                outcome.checks_passed += 1
            elif evaluation.severity == AssetCheckSeverity.WARN:
                outcome.check_warnings.append(f"{run.label()}: {evaluation.check_name} ({evaluation.description or 'warning'})")
            else:
                outcome.checks_failed.append(f"{run.label()}: {evaluation.check_name} ({evaluation.description or ''})")
    for stage in run.stages:
        outcome.stage_partitions[stage] = outcome.stage_partitions.get(stage, 0) + max(1, len(run.partitions))
    outcome.runs.append({"label": run.label(), "stages": list(run.stages), "partitions": len(run.partitions),
                         "seconds": round(seconds, 2), "success": result.success, "run_id": result.run_id})
    _record_partitions(run, stages, result, outcome)
    if not result.success:
        outcome.failed[run.label()] = failure_message(result)
    display.run_finished(run.label(), run.stages, run.partitions, seconds, outcome.failed.get(run.label()))


def _record_partitions(run: RunPlan, stages, result, outcome: RunOutcome) -> None:
    """Which partitions of each stage of the run were stored (a materialization of the stage's first asset)
    and which failed."""
    by_name = {stage.name: stage for stage in stages}
    stored: dict[str, set[str | None]] = {}
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            stored.setdefault(materialization.asset_key.to_user_string(), set()).add(materialization.partition)
    expected: list[str | None] = list(run.partitions) or [None]
    for stage in run.stages:
        done = [p for p in expected if p in stored.get(by_name[stage].assets[0], set())]
        outcome.stage_done.setdefault(stage, []).extend(done)
        outcome.stage_failed.setdefault(stage, []).extend(p for p in expected if p not in done)
