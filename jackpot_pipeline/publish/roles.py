"""Group roles of the ``jackpot`` schema, their privileges and row-level-security policies.

* ``jackpot_writer``: the pipeline. Reads and writes every table (no TRUNCATE, which would skip the
  immutability triggers), reads ``schema_migrations`` and the views. The publisher switches to it with
  ``SET LOCAL ROLE`` inside each transaction, so what the pipeline writes is checked against exactly
  these privileges even when it connects as the schema owner.
* ``jackpot_auditor``: reads everything, writes nothing, sees every jackpot.
* ``jackpot_analyst``: reads the published data; of ``jackpots``, ``jackpot_fixtures`` and jackpot
  ``match_predictions`` only the rows of jackpots it owns. Analysts log in as their own roles, members of
  ``jackpot_analyst``; the owner is the login role, compared with ``current_user``. Not a session
  setting: an analyst can ``SET`` any setting to another analyst's name, but cannot become another
  role without being granted it.

Role names are cluster-wide, so they are configurable (:meth:`Roles.with_prefix`) for parallel tests
and for several deployments sharing one server. Group roles are NOLOGIN; logins are made
members of them. Everything here is idempotent and re-run after every migrate,
so tables added by later migrations get their grants. Policies name roles, which is why they live
here and not in the versioned migrations (those only ENABLE row-level security: without policies a
non-owner sees no row, the safe default).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

from jackpot_pipeline.publish import SCHEMA

DEFAULT_ROLE_PREFIX = ""
# tables whose rows belong to a jackpot, and how a row finds its jackpot's owner
_JACKPOT_OWNED = {
    "jackpots": "owner = current_user",
    "jackpot_fixtures": (
        "EXISTS (SELECT 1 FROM jackpot.jackpots j WHERE j.jackpot_id = jackpot_fixtures.jackpot_id "
        "AND j.owner = current_user)"
    ),
    "match_predictions": (
        "jackpot_id IS NULL OR EXISTS (SELECT 1 FROM jackpot.jackpots j WHERE j.jackpot_id = match_predictions.jackpot_id "
        "AND j.owner = current_user)"
    ),
}
# views are read through: current_matches shows the matches that are not withdrawn; calibration_data,
# validation_results and predictions are the earlier names of calibration_curves, validation_reports and
# match_predictions, kept for readers
_READ_ONLY_FOR_WRITER = {"schema_migrations", "current_matches", "calibration_data", "validation_results", "predictions"}
_HIDDEN_FROM_ANALYST = {"schema_migrations"}


@dataclass(frozen=True)
class Roles:
    writer: str = "jackpot_writer"
    auditor: str = "jackpot_auditor"
    analyst: str = "jackpot_analyst"

    @classmethod
    def with_prefix(cls, prefix: str = DEFAULT_ROLE_PREFIX) -> Roles:
        return cls(writer=f"{prefix}jackpot_writer", auditor=f"{prefix}jackpot_auditor", analyst=f"{prefix}jackpot_analyst")

    def all(self) -> tuple[str, str, str]:
        return (self.writer, self.auditor, self.analyst)


def ensure_roles(connection: psycopg.Connection, roles: Roles = Roles()) -> None:
    """Create missing group roles, let the connected role act as the writer, apply grants and policies.

    Run after :func:`~jackpot_pipeline.publish.migrate.migrate` by the schema owner, with an
    autocommit connection; one transaction. Creating a role needs CREATEROLE; an existing role does not.
    """
    with connection.transaction():
        for role in roles.all():
            _create_role(connection, role)
        member = connection.execute(
            "SELECT rolsuper OR pg_has_role(current_user, %s, 'MEMBER') FROM pg_roles WHERE rolname = current_user",
            [roles.writer],
        ).fetchone()
        if not (member and member[0]):
            connection.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(roles.writer)))
        _grant(connection, roles)
        _policies(connection, roles)


def _create_role(connection: psycopg.Connection, role: str) -> None:
    if connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
        return
    try:
        with connection.transaction():  # a savepoint: another database may create it at the same moment
            connection.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    except errors.DuplicateObject:
        pass


def _tables(connection: psycopg.Connection) -> list[str]:
    return [
        name for (name,) in connection.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v') ORDER BY c.relname",
            [SCHEMA],
        ).fetchall()
    ]


def _grant(connection: psycopg.Connection, roles: Roles) -> None:
    schema = sql.Identifier(SCHEMA)
    writer, auditor, analyst = (sql.Identifier(r) for r in roles.all())
    everyone = sql.SQL(", ").join([writer, auditor, analyst])
    # start from nothing so only the privileges granted below remain
    connection.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(schema, everyone))
    connection.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(schema, everyone))
    connection.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(schema, everyone))
    connection.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, everyone))
    for table in _tables(connection):
        target = sql.Identifier(SCHEMA, table)
        writer_privileges = "SELECT" if table in _READ_ONLY_FOR_WRITER else "SELECT, INSERT, UPDATE, DELETE"
        connection.execute(sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(writer_privileges), target, writer))
        connection.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(target, auditor))
        if table not in _HIDDEN_FROM_ANALYST:
            connection.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(target, analyst))
    connection.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema, writer))


def _policies(connection: psycopg.Connection, roles: Roles) -> None:
    existing = set(_tables(connection))
    for table, analyst_rows in _JACKPOT_OWNED.items():
        if table not in existing:
            continue
        target = sql.Identifier(SCHEMA, table)
        for name, command, role, using, check in (
            ("jackpot_writer_all", "ALL", roles.writer, "true", "true"),
            ("jackpot_auditor_read", "SELECT", roles.auditor, "true", None),
            ("jackpot_analyst_own", "SELECT", roles.analyst, analyst_rows, None),
        ):
            connection.execute(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(name), target))
            statement = sql.SQL("CREATE POLICY {} ON {} FOR {} TO {} USING ({})").format(
                sql.Identifier(name), target, sql.SQL(command), sql.Identifier(role), sql.SQL(using)
            )
            if check is not None:
                statement = sql.Composed([statement, sql.SQL(" WITH CHECK ({})").format(sql.SQL(check))])
            connection.execute(statement)

