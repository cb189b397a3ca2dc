"""Ingestion: each league × season partition's file into raw, canonical and quarantined rows and its
ingestion log; the quality checks run on what was stored; the team-name registry over all partitions."""

import datetime as dt
from functools import partial

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    MetadataValue,
    asset,
)

from jackpot_pipeline.defs.batch import (Materialized, materializations, partition_keys, partitioned_multi_asset,
                                         raise_failures, refuse_chained_batches)
from jackpot_pipeline.defs.partitions import league_season_partitions
from jackpot_pipeline.defs.resources import RawFilesResource, WarehouseResource
from jackpot_pipeline.defs.state import current_inputs
from jackpot_pipeline.planning.pipeline import TEAMS_CODE_VERSION, stage_named
from jackpot_pipeline.sources.football_data import PARSER_VERSION, SourceFormatError
from jackpot_pipeline.sources.ingest import INGESTION_TABLES, QUALITY_CHECKS, MissingSourceFile, ingest_into
from jackpot_pipeline.steps.parallel import map_in_processes
from jackpot_pipeline.sources.teams import build_team_registry, team_registry_metadata
from jackpot_pipeline.warehouse.store import content_digest

_DESCRIPTIONS = {
    "raw_matches": "Every data line of the source file as text, with its path, sha256, line number and snapshot date.",
    "canonical_matches": "Typed matches (teams, goals, result, half-time, shots, chosen 1X2 odds) with a stable match_id.",
    "quarantined_rows": "Rejected lines with a reason code, the offending field and value.",
    "ingestion_log": "One row per ingested version of the partition's source: what was inserted, updated, removed.",
    "withdrawn_matches": "Matches a revision of the source removed: their last canonical row, when, by which version, why.",
}
_UPSTREAM = {"raw_matches": [], "canonical_matches": ["raw_matches"], "quarantined_rows": ["raw_matches"],
             "ingestion_log": ["canonical_matches", "quarantined_rows"], "withdrawn_matches": ["canonical_matches"]}


@partitioned_multi_asset(
    name="ingest_league_season", partitions_def=league_season_partitions, stage_index=0,
    specs=[
        AssetSpec(name, deps=_UPSTREAM[name], description=_DESCRIPTIONS[name], group_name="ingestion",
                  code_version=PARSER_VERSION, skippable=True)
        for name in INGESTION_TABLES
    ],
    check_specs=[AssetCheckSpec(name, asset="canonical_matches", description=text, blocking=True)
                 for name, text in QUALITY_CHECKS.items()],
)
def ingest_league_season(context: AssetExecutionContext, raw_files: RawFilesResource, warehouse: WarehouseResource):
    refuse_chained_batches(context, "ingest")
    keys = partition_keys(context)
    work = partial(_ingest, warehouse.root, raw_files.raw_dir, context.run.run_id, dt.datetime.now(dt.UTC))
    done = dict(zip(keys, map_in_processes(work, keys, stage="ingest", partitions=keys), strict=True))
    ingested = {key: outcome for key, outcome in done.items() if not isinstance(outcome, BaseException)}
    versions = {key: partition.source_version for key, (partition, _) in ingested.items()}
    results = {key: {name: Materialized(partition.data_version, partition.metadata[name]) for name in INGESTION_TABLES}
               for key, (partition, _) in ingested.items()}
    inputs = current_inputs(context.instance, stage_named("ingest"), list(results), {"source": versions})
    yield from materializations(context, results, {k: fp for k, (fp, _) in inputs.items()},
                                dict.fromkeys(INGESTION_TABLES, PARSER_VERSION))
    yield from _check_results({key: checks for key, (_, checks) in ingested.items()})
    raise_failures({key: str(error) for key, error in done.items() if key not in ingested}, len(keys))


def _ingest(root: str, raw_dir: str, run_id: str, now: dt.datetime, partition: str):
    try:
        return ingest_into(root, raw_dir, partition, run_id=run_id, now=now)
    except (MissingSourceFile, SourceFormatError) as error:  # the file itself is unusable: what is stored stays
        return error


def _check_results(outcomes):
    """One result per check for the whole run; failing partitions and their examples in its metadata."""
    if not outcomes:
        return
    for name in QUALITY_CHECKS:
        failing = {key: checks[name] for key, checks in outcomes.items() if not checks[name].passed}
        single = next(iter(outcomes.values()))[name] if len(outcomes) == 1 else None
        yield AssetCheckResult(
            check_name=name, asset_key="canonical_matches", passed=not failing, severity=AssetCheckSeverity.ERROR,
            description=single.description if single else (
                f"{len(outcomes) - len(failing)} of {len(outcomes)} partitions pass"
                + (f"; failing: {', '.join(sorted(failing))}" if failing else "")),
            metadata={
                "partitions": len(outcomes),
                "failures": sum(result.failures for result in failing.values()),
                "failing_partitions": MetadataValue.json(sorted(failing)),
                "examples": MetadataValue.json({key: result.examples for key, result in sorted(failing.items())[:5]}),
            },
        )


@asset(
    deps=["canonical_matches"],
    group_name="ingestion",
    code_version=TEAMS_CODE_VERSION,
    description="Canonical team names per league with their aliases (curated table + normalised forms).",
)
def teams(context: AssetExecutionContext, warehouse: WarehouseResource):
    store = warehouse.store
    registry = build_team_registry(store.query(
        "SELECT league, season, home_team, away_team FROM canonical_matches ORDER BY league, season, match_date, match_id"))
    store.write("teams", registry)
    inputs = current_inputs(context.instance, stage_named("teams"), [None])
    result = Materialized(content_digest(registry)[:24], team_registry_metadata(registry))
    yield from materializations(context, {None: {"teams": result}}, {None: inputs[None][0]}, {"teams": TEAMS_CODE_VERSION})
