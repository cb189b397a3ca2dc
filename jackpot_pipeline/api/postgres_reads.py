"""The API's reads from the published warehouse in PostgreSQL, under the caller's database role.

Each request's queries run inside one transaction after ``SET LOCAL ROLE``: an analyst's token maps to the
analyst's own role (named like the token's subject, a member of ``jackpot_analyst``), an auditor's or an
admin's to ``jackpot_auditor``. The row-level-security policies of :mod:`jackpot_pipeline.publish.roles`
then decide which jackpots the query sees; the API's own owner filter is the first wall, the database's
policies the second (a query without the filter still sees only the analyst's rows; tested).

The API connects with ``JACKPOT_PG_DSN`` (a role that may create roles the first time an analyst reads, and
is made a member of each analyst role so it can switch to it). It never writes to the ``jackpot`` schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from jackpot_pipeline.api.access import Principal
from jackpot_pipeline.api.reads import jsonable
from jackpot_pipeline.publish.roles import Roles

__all__ = ["PostgresReads"]


class PostgresReads:
    def __init__(self, dsn: str, roles: Roles = Roles()) -> None:
        self.dsn = dsn
        self.roles = roles
        self._analysts_ready: set[str] = set()

    def database_role(self, principal: Principal) -> str:
        return principal.subject if principal.role == "analyst" else self.roles.auditor

    def _ensure_analyst(self, connection: psycopg.Connection, subject: str) -> None:
        """The analyst's role exists, is a member of the analyst group, and the API's role may switch to it."""
        if subject in self._analysts_ready:
            return
        with connection.transaction():
            exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [subject]).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(subject)))
            connection.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(self.roles.analyst), sql.Identifier(subject)))
            member = connection.execute(
                "SELECT rolsuper OR pg_has_role(current_user, %s, 'MEMBER') AS may_switch FROM pg_roles "
                "WHERE rolname = current_user", [subject],
            ).fetchone()
            if not (member and member["may_switch"]):
                connection.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(subject)))
        self._analysts_ready.add(subject)

    @contextmanager
    def session(self, principal: Principal) -> Iterator[psycopg.Connection]:
        """A read-only transaction acting as the principal's database role."""
        with psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row) as connection:
            if principal.role == "analyst":
                self._ensure_analyst(connection, principal.subject)
            with connection.transaction():
                connection.execute("SET TRANSACTION READ ONLY")
                connection.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(self.database_role(principal))))
                yield connection

    def jackpots(self, principal: Principal, *, owner_filter: bool = True) -> list[dict[str, Any]]:
        """The published jackpots the principal may read. ``owner_filter=False`` drops the API's own filter, so
        only the database's row-level security stands between an analyst and other analysts' rows."""
        query = sql.SQL(
            "SELECT jackpot_id, name, operator, owner, status, card_sha256, finalised_at, "
            "(SELECT count(*) FROM jackpot.jackpot_fixtures f WHERE f.jackpot_id = j.jackpot_id) AS n_fixtures "
            "FROM jackpot.jackpots j {} ORDER BY jackpot_id"
        )
        filtered = owner_filter and principal.role == "analyst"
        with self.session(principal) as connection:
            rows = connection.execute(
                query.format(sql.SQL("WHERE owner = %s") if filtered else sql.SQL("")),
                [principal.subject] if filtered else [],
            ).fetchall()
        return [jsonable(dict(row)) for row in rows]

    def jackpot_predictions(self, principal: Principal, jackpot_id: str, *, owner_filter: bool = True) -> list[dict[str, Any]]:
        """The published predictions of one jackpot (every fixture and set) the principal may read."""
        filtered = owner_filter and principal.role == "analyst"
        query = sql.SQL(
            "SELECT p.jackpot_id, p.position, p.set_id::text AS set_id, p.prob_home, p.prob_draw, p.prob_away, "
            "p.model_version, p.calibration_version, p.flags FROM jackpot.match_predictions p "
            "WHERE p.jackpot_id = %s {} ORDER BY p.position, p.set_id"
        ).format(sql.SQL("AND EXISTS (SELECT 1 FROM jackpot.jackpots j WHERE j.jackpot_id = p.jackpot_id AND j.owner = %s)")
                 if filtered else sql.SQL(""))
        with self.session(principal) as connection:
            rows = connection.execute(query, [jackpot_id, principal.subject] if filtered else [jackpot_id]).fetchall()
        return [jsonable(dict(row)) for row in rows]
