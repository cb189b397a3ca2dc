"""Which Dagster instance profile ``$DAGSTER_HOME/dagster.yaml`` gets, chosen by one setting.

``JACKPOT_INSTANCE`` = ``sqlite`` (default: ``deploy/dagster.yaml``, SQLite files in DAGSTER_HOME),
``postgres`` (``deploy/postgres/dagster.yaml``: runs, event logs and schedules in the database of
``JACKPOT_PG_DSN``) or ``celery`` (``deploy/celery/dagster.yaml``: the Postgres storage, and every run executed
by a Celery worker from the broker at ``JACKPOT_CELERY_BROKER``, Redis on 127.0.0.1 by default). All have
telemetry off and the run queue.

The Postgres profile reads its connection from ``JACKPOT_PG_HOST/PORT/USER/PASSWORD/DB``, which
:func:`prepare_dagster_home` derives from ``JACKPOT_PG_DSN`` and returns for the caller to export:
the DSN stays the only thing to configure and no password is written to disk. Every process that
loads the instance (``dagster dev``, the daemon, run workers) needs them: they inherit them when
started after the export, or ``eval "$(python -m jackpot_pipeline.publish.instance)"`` sets them in
a shell.

The copy in DAGSTER_HOME is generated (first line: a marker) and rewritten when the selected
profile or its template changes. A hand-made ``dagster.yaml`` (no marker, not a template copy) is
left alone, except that selecting ``postgres`` over one without Postgres storage is an error rather
than a silent run on SQLite.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from psycopg.conninfo import conninfo_to_dict

from jackpot_pipeline.settings import PROJECT_ROOT

INSTANCE_VARIABLE = "JACKPOT_INSTANCE"
DSN_VARIABLE = "JACKPOT_PG_DSN"
PROFILES = ("sqlite", "postgres", "celery")
SERVER_PROFILES = ("postgres", "celery")  # the profiles keeping Dagster's storage in PostgreSQL
DEFAULT_PROFILE = "sqlite"
STORAGE_VARIABLES = {
    "host": "JACKPOT_PG_HOST",
    "port": "JACKPOT_PG_PORT",
    "user": "JACKPOT_PG_USER",
    "password": "JACKPOT_PG_PASSWORD",
    "dbname": "JACKPOT_PG_DB",
}
MARKER = "# jackpot_pipeline instance profile:"


class InstanceProfileError(RuntimeError):
    """The settings do not describe a usable instance, or DAGSTER_HOME holds a conflicting file."""


def templates(project_root: Path = PROJECT_ROOT) -> dict[str, Path]:
    return {"sqlite": project_root / "deploy" / "dagster.yaml", "postgres": project_root / "deploy" / "postgres" / "dagster.yaml",
            "celery": project_root / "deploy" / "celery" / "dagster.yaml"}


def postgres_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Publishing to PostgreSQL is on exactly when ``JACKPOT_PG_DSN`` is set (and not blank)."""
    env = os.environ if environ is None else environ
    return bool((env.get(DSN_VARIABLE) or "").strip())


def instance_profile(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    profile = (env.get(INSTANCE_VARIABLE) or DEFAULT_PROFILE).strip().lower()
    if profile not in PROFILES:
        raise InstanceProfileError(f"{INSTANCE_VARIABLE}={env.get(INSTANCE_VARIABLE)!r}: choose one of {', '.join(PROFILES)}")
    if profile in SERVER_PROFILES and not postgres_enabled(env):
        raise InstanceProfileError(f"{INSTANCE_VARIABLE}={profile} needs {DSN_VARIABLE} (e.g. postgresql://user@host:5432/db)")
    return profile


def storage_settings(dsn: str) -> tuple[dict[str, str], dict[str, str]]:
    """(environment variables for the template, extra connection parameters) from a libpq DSN or URI.

    Extra parameters (sslmode, options, a socket directory as host...) are not secret: they are
    written into the generated file as ``postgres_db.params``.
    """
    try:
        parts = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except Exception as error:  # psycopg.ProgrammingError: an unparsable DSN
        raise InstanceProfileError(f"{DSN_VARIABLE} cannot be parsed: {error}") from None
    host = parts.pop("host", "")
    if "," in host or "," in parts.get("port", ""):
        raise InstanceProfileError(f"{DSN_VARIABLE}: several hosts are not supported by the Dagster storage")
    params = {}
    if host.startswith("/"):  # a Unix-socket directory travels as a query parameter of the URL
        params["host"], host = host, ""
    user = parts.pop("user", "") or getpass.getuser()
    environment = {
        STORAGE_VARIABLES["host"]: host,
        STORAGE_VARIABLES["port"]: parts.pop("port", "") or "5432",
        STORAGE_VARIABLES["user"]: user,
        STORAGE_VARIABLES["password"]: parts.pop("password", ""),
        STORAGE_VARIABLES["dbname"]: parts.pop("dbname", "") or user,
    }
    params.update(parts)
    return environment, params


@dataclass(frozen=True)
class PreparedHome:
    home: Path
    profile: str
    template: Path
    written: bool  # dagster.yaml was (re)written by this call
    custom: bool  # a hand-made dagster.yaml was kept
    environment: dict[str, str] = field(default_factory=dict, repr=False)  # to export (may hold a password)


def render_profile(profile: str, environ: Mapping[str, str] | None = None, project_root: Path = PROJECT_ROOT) -> str:
    """The text of ``dagster.yaml`` for a profile: marker line + template (+ connection params)."""
    template = templates(project_root)[profile]
    text = template.read_text()
    if profile in SERVER_PROFILES:
        env = os.environ if environ is None else environ
        _, params = storage_settings(env[DSN_VARIABLE])
        if params:
            document = yaml.safe_load(text)
            document["storage"]["postgres"]["postgres_db"]["params"] = params
            text = yaml.safe_dump(document, sort_keys=False)
    relative = template.relative_to(project_root) if template.is_relative_to(project_root) else template
    return f"{MARKER} {profile} (generated from {relative}: edit that file, not this copy)\n{text}"


def prepare_dagster_home(
    home: Path, environ: Mapping[str, str] | None = None, project_root: Path = PROJECT_ROOT
) -> PreparedHome:
    """Write ``home/dagster.yaml`` for the profile the environment selects; return what to export.

    Does not touch ``os.environ``: the caller exports ``environment`` (``os.environ.update(...)``).
    """
    env = os.environ if environ is None else environ
    profile = instance_profile(env)
    environment = storage_settings(env[DSN_VARIABLE])[0] if profile in SERVER_PROFILES else {}
    if profile == "celery":
        environment.update(celery_settings(env))
    template = templates(project_root)[profile]
    desired = render_profile(profile, env, project_root)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    existing = target.read_text() if target.exists() else None
    if existing == desired:
        return PreparedHome(home, profile, template, written=False, custom=False, environment=environment)
    copies = {path.read_text() for path in templates(project_root).values() if path.exists()}
    if existing is not None and not existing.startswith(MARKER) and existing not in copies:
        if profile in SERVER_PROFILES and not _has_postgres_storage(existing):
            raise InstanceProfileError(
                f"{target} is a hand-made instance file without Postgres storage, but {INSTANCE_VARIABLE}={profile}: "
                f"remove it (it is regenerated from {template}) or give it a dagster-postgres storage block"
            )
        return PreparedHome(home, profile, template, written=False, custom=True, environment=environment)
    temporary = target.with_suffix(".yaml.tmp")
    temporary.write_text(desired)
    temporary.replace(target)
    return PreparedHome(home, profile, template, written=True, custom=False, environment=environment)


CELERY_DEFAULTS = {
    "JACKPOT_CELERY_BROKER": "redis://127.0.0.1:6379/0",  # amqp://guest:guest@127.0.0.1:5672// for RabbitMQ
    "JACKPOT_CELERY_BACKEND": "redis://127.0.0.1:6379/1",
    # backfills split into runs of this many partitions per stage, so that several workers share a stage
    "JACKPOT_PARTITIONS_PER_RUN": "8",
}


def celery_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The broker, result backend and run size of the scale-out profile: the environment's, else the defaults."""
    return {name: environ.get(name) or default for name, default in CELERY_DEFAULTS.items()}


def _has_postgres_storage(text: str) -> bool:
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return False
    storage = document.get("storage") if isinstance(document, dict) else None
    return isinstance(storage, dict) and "postgres" in storage


def main(argv: list[str] | None = None) -> int:
    """Prepare DAGSTER_HOME and print ``export`` lines for a shell: ``eval "$(python -m ...)"``."""
    parser = argparse.ArgumentParser(prog="python -m jackpot_pipeline.publish.instance", description=main.__doc__)
    parser.add_argument("--home", default=os.environ.get("DAGSTER_HOME") or str(PROJECT_ROOT / ".dagster"))
    args = parser.parse_args(argv)
    home = Path(args.home).resolve()
    try:
        prepared = prepare_dagster_home(home)
    except InstanceProfileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, value in {"DAGSTER_HOME": str(home), **prepared.environment}.items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"# {home / 'dagster.yaml'}: profile {prepared.profile}" + (" (hand-made file kept)" if prepared.custom else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
