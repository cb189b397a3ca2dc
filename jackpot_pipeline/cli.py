"""``jackpot-pipeline``: fetch the configured CSVs, bring the pipeline up to date, print a summary."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from jackpot_pipeline.settings import PROJECT_ROOT, Settings, load_settings

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
    return fetch_configured(settings, quiet, policy=policy)[0]


def fetch_configured(settings: Settings, quiet: bool = False, *, policy=None, display=None) -> tuple[int, str | None]:
    """:func:`command_fetch`'s exit code and the fetch report's summary; ``display``: a
    :class:`~jackpot_pipeline.console.RunDisplay` that shows the files as they come (instead of printing)."""
    import time

    from jackpot_pipeline.sources.fetch import DEFAULT_RETRY, FetchError, fetch_files, source_files
    from jackpot_pipeline.sources.leagues import SeasonError

    try:
        seasons = settings.seasons()
    except (FetchError, SeasonError) as error:
        print(f"fetch: cannot work out the seasons to fetch: {error}", file=sys.stderr)
        return 1, None
    files = source_files(settings.base_url, settings.leagues, seasons)
    started = time.perf_counter()
    if display is None:
        print(f"fetching {len(files)} file(s) of {len(settings.leagues)} league(s) from {settings.base_url} "
              f"into {settings.raw_dir}")
        progress = None if quiet else print
    else:
        display.fetch_started(len(files))
        progress = display.file_fetched
    report = fetch_files(files, settings.raw_dir, progress=progress, policy=policy or DEFAULT_RETRY)
    if display is None:
        print(report.summary())
    else:
        display.fetch_finished(report.summary(), time.perf_counter() - started)
    return (0 if report.ok else 1), report.summary()


def print_summary(settings: Settings, record=None, *, as_json: bool = False) -> None:
    """The closing summary of the warehouse (and of the run ``record``, else of the last run recorded)."""
    from jackpot_pipeline.run_summary import build_summary, render_summary, summary_json

    summary = build_summary(settings.data_dir, settings.warehouse_root, settings.warehouse_path, record)
    print(summary_json(summary) if as_json else render_summary(summary), end="" if not as_json else "\n")


def command_run(settings: Settings, fetch: bool = True, *, verbose: bool = False) -> int:
    import time

    from dagster import DagsterInstance

    from jackpot_pipeline.console import choose_display
    from jackpot_pipeline.definitions import build_definitions
    from jackpot_pipeline.defs.local_runs import run_pipeline
    from jackpot_pipeline.warehouse.store import Warehouse, catalog_is_current, write_catalog

    started = time.perf_counter()
    ensure_dagster_home()
    with choose_display(sys.stdout, verbose=verbose) as display:
        fetched, fetch_summary = fetch_configured(settings, quiet=True, display=display) if fetch else (0, None)
        if fetched:
            display.message("fetch failed for some files (listed above): running on the copies in data/raw")
        store = Warehouse(settings.warehouse_root)
        store.remove_stale_temporaries()
        if not catalog_is_current(store, settings.warehouse_path):
            write_catalog(store, settings.warehouse_path)
        display.preparing("planning")
        with DagsterInstance.get() as instance:
            # without --verbose the runs' own log lines stay in the instance (the UI shows them), off the screen
            outcome = run_pipeline(build_definitions(settings), settings, instance, display=display,
                                   console_log_level="ERROR" if verbose else "CRITICAL")
    record = outcome.record(seconds=time.perf_counter() - started, fetch=fetch_summary)
    record.save(settings.data_dir)
    print()
    print_summary(settings, record)
    return 0 if outcome.success and not fetched else 1


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


def command_token(settings: Settings, args: argparse.Namespace) -> int:
    """Issue, revoke or list API tokens in the access store under the data directory; each issue and revoke is
    a row of the audit table. The secret is printed once, on stdout, and never stored."""
    import getpass
    import uuid

    from jackpot_pipeline.api.access import AccessStore, TokenError, parse_duration

    store = AccessStore.under(settings.data_dir)
    actor = f"cli_{getpass.getuser()}"
    request_id = f"cli-{uuid.uuid4().hex}"
    try:
        if args.token_command == "issue":
            issued = store.issue(args.subject, args.role, lifetime=parse_duration(args.expires_in), created_by=actor)
            store.audit(request_id=request_id, subject=actor, role="admin", action="token.issue",
                        target=issued.info.token_id, outcome="issued", detail=f"{args.subject} as {args.role}")
            print(issued.token)
            print(f"token {issued.info.token_id}: {issued.info.subject} as {issued.info.role}, expires "
                  f"{issued.info.expires_at} (the secret above is shown only now)", file=sys.stderr)
            return 0
        if args.token_command == "revoke":
            info = store.revoke(args.token_id)
            store.audit(request_id=request_id, subject=actor, role="admin", action="token.revoke", target=info.token_id,
                        outcome="revoked")
            print(f"token {info.token_id} ({info.subject} as {info.role}) revoked at {info.revoked_at}")
            return 0
        for info in store.tokens():
            state = f"revoked {info.revoked_at}" if info.revoked_at else f"expires {info.expires_at}"
            print(f"{info.token_id}  {info.role:<8} {info.subject:<24} {state}")
        return 0
    except TokenError as error:
        print(f"jackpot-pipeline token: {error}", file=sys.stderr)
        return 2


def command_serve(settings: Settings, host: str, port: int, launch: str) -> int:
    import uvicorn

    from jackpot_pipeline.api.app import create_app

    ensure_dagster_home()
    postgres = None
    if os.environ.get("JACKPOT_PG_DSN"):
        from jackpot_pipeline.api.postgres_reads import PostgresReads
        from jackpot_pipeline.publish.roles import Roles

        postgres = PostgresReads(os.environ["JACKPOT_PG_DSN"], Roles.with_prefix(os.environ.get("JACKPOT_PG_ROLE_PREFIX", "")))
    app = create_app(settings, launch=launch, postgres=postgres)
    import logging

    # the app's own lines (launched runs, their outcome) beside uvicorn's; no headers are ever logged
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    api_log = logging.getLogger("jackpot_pipeline.api")
    api_log.addHandler(handler)
    api_log.setLevel(logging.INFO)
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jackpot-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("fetch", "download the configured football-data CSVs into data/raw/"),
        ("run", "fetch, ingest every changed partition into the warehouse, print a summary"),
        ("summary", "print the closing summary of make run again: validation, data, jackpot cards, next steps"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--leagues", help="override JACKPOT_LEAGUES, e.g. E0,SP1 or all")
        command.add_argument("--seasons", help="override JACKPOT_SEASONS, e.g. 1819-2324")
        if name == "run":
            command.add_argument("--no-fetch", action="store_true", help="ingest what is already in data/raw/")
            command.add_argument("--verbose", action="store_true",
                                 help="a line per run and per partition (and the runs' errors) instead of progress bars")
        if name == "summary":
            command.add_argument("--json", action="store_true", help="machine-readable output")
    trace = commands.add_parser("trace", help="lineage of a finalised jackpot prediction, down to the raw CSV bytes")
    trace.add_argument("jackpot_id")
    trace.add_argument("--fixture", type=int, help="only this fixture (1-based position on the card)")
    trace.add_argument("--json", action="store_true", help="machine-readable output")
    token = commands.add_parser("token", help="issue, revoke or list API bearer tokens (store: <data dir>/api/)")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    issue = token_commands.add_parser("issue", help="print a new token (shown once)")
    issue.add_argument("--subject", required=True, help="who: a-z, 0-9, _ (card owner, analyst's database role)")
    issue.add_argument("--role", required=True, choices=["analyst", "auditor", "admin"])
    issue.add_argument("--expires-in", default="30d", help="lifetime: 30d, 12h, 90m, 45s (default 30d)")
    revoke = token_commands.add_parser("revoke", help="revoke a token at once, by its id")
    revoke.add_argument("token_id")
    token_commands.add_parser("list", help="every token: id, role, subject, expiry or revocation (never the secret)")
    serve = commands.add_parser("serve", help="the REST API and the dashboard page (make serve)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--launch", choices=["auto", "never"], default="auto",
                       help="auto: run the pipeline for a submitted card when no Dagster daemon is running")
    args = parser.parse_args(argv)
    try:
        settings = _settings_from(args)
    except ValueError as error:  # an unknown league code, a season that cannot be read (SeasonError)
        print(f"jackpot-pipeline: {error}", file=sys.stderr)
        return 2
    if args.command == "fetch":
        return command_fetch(settings)
    if args.command == "run":
        return command_run(settings, fetch=not args.no_fetch, verbose=args.verbose)
    if args.command == "trace":
        return command_trace(settings, args.jackpot_id, args.fixture, as_json=args.json)
    if args.command == "token":
        return command_token(settings, args)
    if args.command == "serve":
        return command_serve(settings, args.host, args.port, args.launch)
    print_summary(settings, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
