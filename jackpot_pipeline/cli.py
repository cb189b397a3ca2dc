"""``jackpot-pipeline``: fetch the configured CSVs, ingest what changed, print a summary."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from jackpot_pipeline.settings import PROJECT_ROOT, Settings, load_settings

# The run's events still reach the instance (and the UI); only the console echo is quietened.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def ensure_dagster_home() -> Path:
    """Use ``$DAGSTER_HOME`` or the project-local ``.dagster/``, seeded from the committed template."""
    from jackpot_pipeline.publish.instance import prepare_dagster_home

    home = Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    # JACKPOT_INSTANCE=postgres (with JACKPOT_PG_DSN) selects deploy/postgres/dagster.yaml, else deploy/dagster.yaml
    prepared = prepare_dagster_home(home)
    os.environ.update(prepared.environment)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _settings_from(args: argparse.Namespace) -> Settings:
    environ = dict(os.environ)
    if getattr(args, "leagues", None):
        environ["JACKPOT_LEAGUES"] = args.leagues
    if getattr(args, "seasons", None):
        environ["JACKPOT_SEASONS"] = args.seasons
    return load_settings(environ)


def command_fetch(settings: Settings, quiet: bool = False, *, policy=None) -> int:
    """Download the configured files; 1 when a file failed (its previous copy is kept) or the
    seasons could not be worked out, 0 otherwise (a file the publisher lacks is only reported).
    ``policy``: a :class:`~jackpot_pipeline.sources.fetch.RetryPolicy` (default: the module's)."""
    from jackpot_pipeline.sources.fetch import DEFAULT_RETRY, FetchError, fetch_files, source_files
    from jackpot_pipeline.sources.leagues import SeasonError

    try:
        seasons = settings.seasons()
    except (FetchError, SeasonError) as error:
        print(f"fetch: cannot work out the seasons to fetch: {error}", file=sys.stderr)
        return 1
    files = source_files(settings.base_url, settings.leagues, seasons)
    print(f"fetching {len(files)} file(s) of {len(settings.leagues)} league(s) from {settings.base_url} "
          f"into {settings.raw_dir}")
    report = fetch_files(files, settings.raw_dir, progress=None if quiet else print, policy=policy or DEFAULT_RETRY)
    print(report.summary())
    return 0 if report.ok else 1


@dataclass
class IngestionOutcome:
    ingested: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    check_warnings: list[str] = field(default_factory=list)  # WARN-severity checks: reported, not fatal


def execute_partition(job, instance, partition_key, outcome: IngestionOutcome, label: str, tags=None) -> bool:
    """One in-process run of ``job`` for one partition; failures and check results go to ``outcome``."""
    from dagster import AssetCheckSeverity, DagsterEventType

    from jackpot_pipeline.defs.runs import step_failure_message

    result = job.execute_in_process(
        instance=instance, partition_key=partition_key, raise_on_error=False,
        tags={"jackpot/trigger": "make run", **(tags or {})}, run_config=QUIET_RUN_CONFIG,
    )
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                outcome.checks_passed += 1
            elif evaluation.severity == AssetCheckSeverity.WARN:
                outcome.check_warnings.append(f"{label}: {evaluation.check_name} ({evaluation.description or 'warning'})")
            else:
                outcome.checks_failed.append(f"{label}: {evaluation.check_name}")
    if not result.success:
        outcome.failed[label] = step_failure_message(result)
    return result.success


def latest_metadata(instance, asset_name: str, partition_key: str | None) -> tuple[str | None, dict]:
    """(data version, metadata values) of the latest materialization of one asset partition."""
    from dagster import AssetKey

    record = instance.get_latest_data_version_record(AssetKey(asset_name), partition_key=partition_key)
    materialization = record.asset_materialization if record else None
    if materialization is None:
        return None, {}
    metadata = {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}
    return (materialization.tags or {}).get("dagster/data_version"), metadata


def ingest(settings: Settings, instance, *, log=print) -> IngestionOutcome:
    """Materialise every configured partition whose source (or parser) changed since last time."""
    from dagster import AssetKey, MultiPartitionKey

    from jackpot_pipeline.definitions import build_definitions
    from jackpot_pipeline.sources.catalog import discover_partitions

    partitions = discover_partitions(settings.raw_dir, settings.leagues, settings.seasons())
    for dimension, keys in (("league", {p.league for p in partitions}), ("season", {p.season for p in partitions})):
        missing = sorted(keys - set(instance.get_dynamic_partitions(dimension)))
        if missing:
            instance.add_dynamic_partitions(dimension, missing)

    defs = build_definitions(settings)
    job = defs.resolve_job_def("ingest_job")
    outcome = IngestionOutcome()
    stale = []
    for partition in partitions:
        stored = instance.get_latest_data_version_record(AssetKey("canonical_matches"), partition_key=partition.partition_key)
        materialization = stored.asset_materialization if stored else None
        stored_version = (materialization.tags or {}).get("dagster/data_version") if materialization else None
        (stale if stored_version != partition.data_version else outcome.unchanged).append(partition)
    log(f"{len(partitions)} partition(s) configured: {len(stale)} to ingest, {len(outcome.unchanged)} unchanged")
    outcome.unchanged = [p.partition_key for p in outcome.unchanged]
    for position, partition in enumerate(stale, start=1):
        started = time.perf_counter()
        key = MultiPartitionKey({"league": partition.league, "season": partition.season})
        if execute_partition(job, instance, key, outcome, partition.partition_key, {"jackpot/source_path": partition.relpath}):
            outcome.ingested.append(partition.partition_key)
            status = "ok"
        else:
            status = f"FAILED: {outcome.failed[partition.partition_key]}"
        log(f"[{position}/{len(stale)}] ingest {partition.partition_key} ({time.perf_counter() - started:.1f}s) {status}")
    if outcome.ingested:
        teams_result = defs.resolve_job_def("teams_job").execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET_RUN_CONFIG
        )
        if not teams_result.success:
            outcome.failed["teams"] = "the teams registry failed to build"
    return outcome


@dataclass
class ModelingOutcome:
    refitted: list[str] = field(default_factory=list)
    calibrated: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    unchanged: int = 0


def model(settings: Settings, instance, outcome: IngestionOutcome, *, log=print) -> ModelingOutcome:
    """Walk-forward fits, season calibration maps, then match predictions, each partition only when
    its recorded inputs (upstream data versions and settings) differ from the current ones."""
    import json

    import duckdb
    from dagster import MultiPartitionKey

    from jackpot_pipeline.definitions import build_definitions
    from jackpot_pipeline.model.walk_forward import WalkForwardConfig, training_window
    from jackpot_pipeline.sources.catalog import discover_partitions

    defs = build_definitions(settings)
    modeled = ModelingOutcome()
    partitions = [p for p in discover_partitions(settings.raw_dir, settings.leagues, settings.seasons())
                  if p.partition_key not in outcome.failed]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        first_dates = connection.execute(
            "SELECT league, season, min(match_date) FROM canonical_matches GROUP BY ALL ORDER BY league, 3"
        ).fetchall()
    order: dict[str, list[str]] = {}
    for league, season, _ in first_dates:
        order.setdefault(league, []).append(season)
    config = WalkForwardConfig()
    settings_json = json.dumps(config.as_dict(), sort_keys=True)

    def current(asset_name: str, keys: list[str]) -> dict[str, str | None]:
        return {key: latest_metadata(instance, asset_name, key)[0] for key in sorted(keys)}

    def recorded_inputs(asset_name: str, key: str) -> tuple[dict | None, dict]:
        version, metadata = latest_metadata(instance, asset_name, key)
        return (metadata.get("input_data_versions") if version else None), metadata

    jobs = {
        name: defs.resolve_job_def(name)
        for name in ("walk_forward_job", "calibration_job", "match_predictions_job", "validation_reports_job", "weekly_summary_job")
    }
    modelable = [p for p in partitions if p.season in order.get(p.league, [])]
    for position, partition in enumerate(modelable, start=1):
        window = training_window(order[partition.league], partition.season, config.previous_seasons)
        inputs = current("canonical_matches", [f"{partition.league}|{s}" for s in window])
        recorded, metadata = recorded_inputs("uncalibrated_predictions", partition.partition_key)
        if recorded == inputs and json.dumps(metadata.get("settings"), sort_keys=True) == settings_json:
            modeled.unchanged += 1
            continue
        started = time.perf_counter()
        key = MultiPartitionKey({"league": partition.league, "season": partition.season})
        ok = execute_partition(jobs["walk_forward_job"], instance, key, outcome, f"walk-forward {partition.partition_key}")
        if ok:
            modeled.refitted.append(partition.partition_key)
        log(f"[{position}/{len(modelable)}] walk-forward {partition.partition_key} ({time.perf_counter() - started:.1f}s) {'ok' if ok else 'FAILED'}")

    seasons = sorted({p.season for p in modelable})
    for season in seasons:
        if modeled.refitted or latest_metadata(instance, "calibration_curves", season)[0] is None:
            if execute_partition(jobs["calibration_job"], instance, season, outcome, f"calibration {season}"):
                modeled.calibrated.append(season)
    log(f"calibration: {len(modeled.calibrated)} season(s) refitted")
    for position, partition in enumerate(modelable, start=1):
        inputs = current("uncalibrated_predictions", [partition.partition_key]) | current("calibration_curves", [partition.season])
        recorded, _ = recorded_inputs("match_predictions", partition.partition_key)
        if recorded == inputs:
            continue
        key = MultiPartitionKey({"league": partition.league, "season": partition.season})
        if execute_partition(jobs["match_predictions_job"], instance, key, outcome, f"predictions {partition.partition_key}"):
            modeled.predicted.append(partition.partition_key)
    log(f"match predictions: {len(modeled.predicted)} partition(s) rewritten")
    reported = 0
    for partition in modelable:
        if partition.partition_key in modeled.predicted or latest_metadata(instance, "validation_reports", partition.partition_key)[0] is None:
            key = MultiPartitionKey({"league": partition.league, "season": partition.season})
            reported += execute_partition(jobs["validation_reports_job"], instance, key, outcome, f"validation {partition.partition_key}")
    if reported or latest_metadata(instance, "validation_summary", None)[0] is None:
        execute_partition(jobs["weekly_summary_job"], instance, None, outcome, "validation summary")
    log(f"modeling: {len(modeled.refitted)} refitted, {modeled.unchanged} unchanged, "
        f"{len(modeled.calibrated)} season calibration(s), {len(modeled.predicted)} prediction partition(s), "
        f"{reported} validation report(s)")
    return modeled


def predict_jackpots(settings: Settings, instance, outcome: IngestionOutcome, *, log=print) -> None:
    """Finalise every new card in data/jackpots/; refresh exports and validation of finalised ones."""
    from jackpot_pipeline.defs.jackpots import predict_cards
    from jackpot_pipeline.definitions import build_definitions

    jackpots = predict_cards(build_definitions(settings), settings, instance, run_config=QUIET_RUN_CONFIG, log=log)
    outcome.failed.update({f"jackpot {key}": message for key, message in jackpots.failed.items()})


def publish(settings: Settings, instance, outcome: IngestionOutcome, *, log=print) -> None:
    """With JACKPOT_PG_DSN set: every partition whose DuckDB version is not yet in PostgreSQL."""
    from jackpot_pipeline.defs.publish import postgres_enabled, publish_changed
    from jackpot_pipeline.definitions import build_definitions

    if not postgres_enabled():
        return
    published = publish_changed(build_definitions(settings), settings, instance, run_config=QUIET_RUN_CONFIG)
    outcome.failed.update({f"publish {key}": message for key, message in published.failed.items()})
    log(f"postgres: {len(published.published)} partition(s) published, {len(published.failed)} failed")


def print_summary(settings: Settings, outcome: IngestionOutcome | None = None) -> None:
    import duckdb

    if not settings.warehouse_path.exists():
        print(f"no warehouse at {settings.warehouse_path} yet")
        return
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        rows = connection.execute(
            """
            WITH raw AS (SELECT league, season, count(*) AS lines, count(*) FILTER (row_kind = 'blank') AS blank
                         FROM raw_matches GROUP BY ALL),
                 canonical AS (SELECT league, season, count(*) AS canonical FROM canonical_matches GROUP BY ALL),
                 quarantined AS (SELECT league, season, count(*) AS quarantined FROM quarantined_rows GROUP BY ALL)
            SELECT raw.league, raw.season, raw.lines, coalesce(canonical, 0), coalesce(quarantined, 0), raw.blank
            FROM raw LEFT JOIN canonical USING (league, season) LEFT JOIN quarantined USING (league, season)
            ORDER BY raw.league, raw.season
            """
        ).fetchall()
    print(f"\n{'partition':<12}{'lines':>8}{'canonical':>11}{'quarantined':>13}{'blank':>7}")
    for league, season, lines, canonical, quarantined, blank in rows:
        print(f"{league + '|' + season:<12}{lines:>8}{canonical:>11}{quarantined:>13}{blank:>7}")
    totals = [sum(r[i] for r in rows) for i in (2, 3, 4, 5)]
    print(f"{'total':<12}{totals[0]:>8}{totals[1]:>11}{totals[2]:>13}{totals[3]:>7}  ({len(rows)} partitions)")
    if outcome is not None:
        print(
            f"\ningested {len(outcome.ingested)} partition(s), {len(outcome.unchanged)} unchanged, "
            f"{len(outcome.failed)} failed; checks: {outcome.checks_passed} passed, {len(outcome.checks_failed)} failed, "
            f"{len(outcome.check_warnings)} warning(s)"
        )
        for key, message in outcome.failed.items():
            print(f"  FAILED {key}: {message}")
        for failure in outcome.checks_failed:
            print(f"  CHECK FAILED {failure}")
        for warning in outcome.check_warnings:
            print(f"  warning: {warning}")


def command_run(settings: Settings, fetch: bool = True) -> int:
    from dagster import DagsterInstance

    ensure_dagster_home()
    if fetch:
        command_fetch(settings, quiet=True)
    with DagsterInstance.get() as instance:
        outcome = ingest(settings, instance)
        model(settings, instance, outcome)
        predict_jackpots(settings, instance, outcome)
        publish(settings, instance, outcome)
    print_summary(settings, outcome)
    return 1 if outcome.failed or outcome.checks_failed else 0


def command_trace(settings: Settings, jackpot_id: str, fixture: int | None, *, as_json: bool) -> int:
    import json

    from dagster import DagsterInstance

    from jackpot_pipeline.defs.jackpots import TraceError, format_trace, trace_jackpot

    ensure_dagster_home()
    with DagsterInstance.get() as instance:
        try:
            lineage = trace_jackpot(settings, instance, jackpot_id, fixture)
        except TraceError as error:
            print(error, file=sys.stderr)
            return 1
    print(json.dumps(lineage, indent=2, sort_keys=True) if as_json else format_trace(lineage))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jackpot-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("fetch", "download the configured football-data CSVs into data/raw/"),
        ("run", "fetch, ingest every changed partition into the warehouse, print a summary"),
        ("summary", "print rows per league-season from the warehouse"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--leagues", help="override JACKPOT_LEAGUES, e.g. E0,SP1 or all")
        command.add_argument("--seasons", help="override JACKPOT_SEASONS, e.g. 1819-2324")
        if name == "run":
            command.add_argument("--no-fetch", action="store_true", help="ingest what is already in data/raw/")
    trace = commands.add_parser("trace", help="lineage of a finalised jackpot prediction, down to the raw CSV bytes")
    trace.add_argument("jackpot_id")
    trace.add_argument("--fixture", type=int, help="only this fixture (1-based position on the card)")
    trace.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    settings = _settings_from(args)
    if args.command == "fetch":
        return command_fetch(settings)
    if args.command == "run":
        return command_run(settings, fetch=not args.no_fetch)
    if args.command == "trace":
        return command_trace(settings, args.jackpot_id, args.fixture, as_json=args.json)
    print_summary(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
