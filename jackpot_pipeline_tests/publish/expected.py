"""What PostgreSQL should hold after publishing a warehouse: row counts per table, computed from the
warehouse's own files, and a helper running a publishing job the way the planner launches it."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import AssetKey, DagsterEventType

from jackpot_pipeline.defs.local_runs import QUIET_RUN_CONFIG
from jackpot_pipeline.defs.orchestration import RANGE_END_TAG, RANGE_START_TAG
from jackpot_pipeline.publish.ingested import league_catalogue

# market rows of matches without odds have no probabilities: they cannot be stored and are counted as skipped
HAS_PROBABILITIES = " AND ".join(f"coalesce(NOT isnan({c}), false)" for c in ("prob_home", "prob_draw", "prob_away"))


def count(workspace, query: str, parameters=()) -> int:
    return int(workspace.sql(f"SELECT count(*) n FROM ({query})", parameters)["n"][0])


def expected_counts(workspace, jackpots: Sequence[str] = ()) -> dict[str, int]:
    """Row count per PostgreSQL table as the warehouse holds them, with the finalised ``jackpots`` published."""
    listed = ", ".join(f"'{j}'" for j in jackpots) or "NULL"
    leagues = set(league_catalogue()["league"]) | set(workspace.sql("SELECT DISTINCT league FROM canonical_matches")["league"])
    return {
        "leagues": len(leagues),
        "matches": count(workspace, "SELECT * FROM canonical_matches"),
        "ingestion_logs": count(workspace, "SELECT * FROM ingestion_log"),
        "teams": count(workspace, "SELECT DISTINCT league, team FROM teams"),
        "team_aliases": count(workspace, "SELECT * FROM teams"),
        "team_strength_snapshots": count(workspace, "SELECT * FROM team_strength_snapshots"),
        "match_predictions": count(workspace, f"SELECT * FROM match_predictions WHERE {HAS_PROBABILITIES}")
        + count(workspace, f"SELECT * FROM jackpot_predictions WHERE jackpot_id IN ({listed})"),
        "calibration_curves": count(workspace, "SELECT * FROM calibration_curves"),
        "validation_reports": count(workspace, "SELECT * FROM validation_reports"),
        "team_form_features": count(workspace, "SELECT * FROM team_form_features"),
        "league_baselines": count(workspace, "SELECT * FROM league_baselines"),
        "models": count(workspace, "SELECT DISTINCT league, model_version FROM model_registry"),
        "training_runs": count(workspace, "SELECT * FROM training_runs"),
        "jackpots": count(workspace, f"SELECT * FROM jackpots WHERE jackpot_id IN ({listed})"),
        "jackpot_fixtures": count(workspace, f"SELECT DISTINCT jackpot_id, position FROM jackpot_predictions "
                                             f"WHERE jackpot_id IN ({listed})"),
    }


def published_counts(database, tables) -> dict[str, int]:
    return {table: database.count(table) for table in tables}


def publish_run(workspace, job: str, partitions: Sequence[str] = (), *, raise_on_error: bool = True):
    """One in-process run of a publishing job over one partition, a range of them, or none."""
    tags = {RANGE_START_TAG: partitions[0], RANGE_END_TAG: partitions[-1]} if len(partitions) > 1 else {}
    return workspace.defs().resolve_job_def(job).execute_in_process(
        instance=workspace.instance, partition_key=partitions[0] if len(partitions) == 1 else None, tags=tags,
        run_config=QUIET_RUN_CONFIG, raise_on_error=raise_on_error,
    )


def materialization_stats(result, asset: str) -> dict[str | None, dict]:
    """{partition: metadata values} of ``asset``'s materializations in a run."""
    found = {}
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            if materialization.asset_key == AssetKey(asset):
                found[materialization.partition] = {k: v.value for k, v in materialization.metadata.items()}
    return found
