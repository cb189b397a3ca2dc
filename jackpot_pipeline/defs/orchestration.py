"""One engine for ``make run``, the sensor and the UI: the same jobs, the same plan, the same runs.

:func:`plan_runs` reads the state (data folders + instance) and asks the planner what to run next;
the sensor turns those runs into ``RunRequest``s for the daemon and ``make run`` executes them in-process
against the same instance. Either way each run records, per partition, the input fingerprint the planner
compares next time, so after ``make run`` the sensor finds nothing to do and vice versa.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dagster import AssetKey, AssetSelection, DagsterInstance, RunRequest, RunsFilter, define_asset_job

from jackpot_pipeline.defs.partitions import jackpot_partitions, league_season_partitions
from jackpot_pipeline.defs.state import (
    CLI_HOST_TAG,
    CLI_PID_TAG,
    CardScan,
    SourceScan,
    partition_key_order,
    read_state,
    with_dropped_slices,
)
from jackpot_pipeline.planning.pipeline import STAGES
from jackpot_pipeline.sources.ingest import INGESTION_TABLES
from jackpot_pipeline.planning.plan import Attempts, Plan, RunPlan, next_runs, plan
from jackpot_pipeline.planning.publishing import publish_stages
from jackpot_pipeline.planning.stages import PipelineState, Stage
from jackpot_pipeline.warehouse.store import Warehouse

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
RUN_KEY_TAG = "jackpot/run_key"
STAGES_TAG = "jackpot/stages"
TRIGGER_TAG = "jackpot/trigger"

ingest_job = define_asset_job(
    "ingest_job", selection=AssetSelection.assets(*INGESTION_TABLES),
    description="Ingest league × season partitions (raw, canonical and quarantined rows, ingestion log).",
)
league_season_job = define_asset_job(
    "league_season_job",
    selection=AssetSelection.assets(*[asset for stage in STAGES if stage.scope == "league_season" for asset in stage.assets]),
    description="League × season work: one stage over a range of partitions, or every stage of one partition.",
)
warehouse_job = define_asset_job(
    "warehouse_job", selection=AssetSelection.assets(*[a for s in STAGES if s.scope == "global" for a in s.assets]),
    description="The unpartitioned tables: team registry, validation summary, model registry, data freshness.",
)
jackpot_job = define_asset_job(
    "jackpot_job", selection=AssetSelection.assets(*[a for s in STAGES if s.scope == "jackpot" for a in s.assets]),
    description="Finalise jackpot cards, write their exports and score them on the results so far.",
)
publish_league_season_job = define_asset_job(
    "publish_league_season_job", selection=AssetSelection.assets(
        "published_matches", "published_ingestion_logs", "published_team_strength_snapshots",
        "published_match_predictions", "published_validation_reports", "published_calibration_curves",
        "published_team_form_features", "published_league_baselines"),
    description="Publish league × season partitions to PostgreSQL.",
)
publish_catalog_job = define_asset_job(
    "publish_catalog_job", selection=AssetSelection.assets("published_leagues", "published_teams", "published_models"),
    description="Publish the league catalogue, the team registry and the model registry to PostgreSQL.",
)
publish_jackpots_job = define_asset_job(
    "publish_jackpots_job", selection=AssetSelection.assets("published_jackpots"),
    description="Publish finalised jackpots to PostgreSQL.",
)
PIPELINE_JOBS = [ingest_job, league_season_job, warehouse_job, jackpot_job]
PUBLISH_JOBS = [publish_league_season_job, publish_catalog_job, publish_jackpots_job]
_STAGE_JOBS = {"publish_league_season": publish_league_season_job.name, "publish_catalog": publish_catalog_job.name,
               "publish_jackpots": publish_jackpots_job.name}
_SCOPE_JOBS = {"league_season": league_season_job.name, "global": warehouse_job.name, "jackpot": jackpot_job.name}


def pipeline_stages(publish_target: str | None = None) -> tuple[Stage, ...]:
    """Every stage in order; the publishing stages when a target database is given."""
    return STAGES + (publish_stages(publish_target) if publish_target else ())


def job_name(run: RunPlan) -> str:
    return _STAGE_JOBS.get(run.stages[0], _SCOPE_JOBS[run.scope])


def run_tags(run: RunPlan, trigger: str) -> dict[str, str]:
    tags = {RUN_KEY_TAG: run.run_key, STAGES_TAG: "+".join(run.stages), TRIGGER_TAG: trigger}
    if len(run.partitions) > 1:
        tags.update({RANGE_START_TAG: run.first, RANGE_END_TAG: run.last})  # type: ignore[dict-item]
    return tags


def asset_selection(run: RunPlan, stages: Sequence[Stage]) -> list[AssetKey]:
    by_name = {stage.name: stage for stage in stages}
    return [AssetKey(asset) for name in run.stages for asset in by_name[name].assets]


def run_request(run: RunPlan, stages: Sequence[Stage]) -> RunRequest:
    return RunRequest(
        run_key=run.run_key, job_name=job_name(run), asset_selection=asset_selection(run, stages),
        partition_key=run.first if len(run.partitions) == 1 else None, tags=run_tags(run, "sensor"),
    )


def cli_tags() -> dict[str, str]:
    """Marks a ``make run`` run, so a sensor can tell when the process running it is gone."""
    return {CLI_PID_TAG: str(os.getpid()), CLI_HOST_TAG: socket.gethostname()}


@dataclass
class Planned:
    state: PipelineState
    plan: Plan
    runs: list[RunPlan]
    new_league_seasons: list[str] = field(default_factory=list)
    new_jackpots: list[str] = field(default_factory=list)


def plan_runs(
    instance: DagsterInstance,
    stages: Sequence[Stage],
    sources: SourceScan,
    cards: CardScan,
    attempts: Attempts,
    *,
    store: Warehouse | None = None,
    max_runs_per_stage: int = 4,
) -> Planned:
    """What to run next. Partition keys the instance lacks are planned as if added (the caller adds them,
    in this order, before launching)."""
    known = list(instance.get_dynamic_partitions(league_season_partitions.name))
    sources = with_dropped_slices(sources, known)
    new_league_seasons = [key for key in sorted(sources.versions, key=partition_key_order) if key not in set(known)]
    known_jackpots = list(instance.get_dynamic_partitions(jackpot_partitions.name))
    new_jackpots = sorted(set(cards.cards) - set(known_jackpots))
    state = read_state(instance, stages, sources=sources.versions, cards=cards, configured=sources.versions,
                       extra_league_seasons=new_league_seasons, extra_jackpots=new_jackpots, store=store)
    current = plan(stages, state, attempts)
    order = {"league_season": [*known, *new_league_seasons], "jackpot": [*known_jackpots, *new_jackpots]}
    runs = next_runs(stages, current, state, order, max_runs_per_stage=max_runs_per_stage)
    return Planned(state, current, runs, new_league_seasons, new_jackpots)


def run_key_used(instance: DagsterInstance, run_key: str) -> bool:
    return bool(instance.get_run_ids(filters=RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1))


def attempts_of(runs: Sequence[RunPlan]) -> dict[tuple[str, str | None], str]:
    return {key: fingerprint for run in runs for key, fingerprint in run.fingerprints.items()}


def encode_attempts(attempts: Mapping[tuple[str, str | None], str]) -> dict[str, str]:
    return {f"{stage}@{partition or ''}": fingerprint for (stage, partition), fingerprint in attempts.items()}


def decode_attempts(encoded: Mapping[str, str]) -> dict[tuple[str, str | None], str]:
    decoded = {}
    for key, fingerprint in encoded.items():
        stage, _, partition = key.partition("@")
        decoded[(stage, partition or None)] = fingerprint
    return decoded
