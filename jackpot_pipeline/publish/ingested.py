"""Publishers of what ingestion produces: the league catalogue, the team registry, and each league ×
season's matches and ingestion log. Matches are never deleted: a match the source no longer holds is
marked withdrawn."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import psycopg
from psycopg import sql

from jackpot_pipeline.publish import SCHEMA, PublishError
from jackpot_pipeline.publish.engine import BeforeWrite, PublishResult, add_leagues, begin, publish_frame
from jackpot_pipeline.sources.leagues import ALL_LEAGUES, is_extra_league
from jackpot_pipeline.sources.revisions import PARTITION_DROPPED, REMOVED_FROM_SOURCE, WITHDRAWAL_COLUMNS

TEAM_REFERENCES = (
    # every foreign key to jackpot.teams; test_publisher asserts this list against the catalog
    ("matches", ("home_team", "away_team")),
    ("team_strength_snapshots", ("team",)),
    ("jackpot_fixtures", ("resolved_home_team", "resolved_away_team")),
)
TEAM_COLUMNS = ("league", "team", "first_season", "last_season", "n_matches")
ALIAS_COLUMNS = ("league", "team", "alias", "alias_key", "alias_source")


def publish_matches(
    connection: psycopg.Connection,
    canonical: pd.DataFrame,
    league: str,
    season: str,
    *,
    role: str | None = None,
    before_write: BeforeWrite | None = None,
) -> PublishResult:
    """One partition of DuckDB ``canonical_matches`` into ``jackpot.matches`` (upsert on match_id).

    The league and the teams the matches name are added first if missing (foreign keys), in the same
    transaction. A published match the frame no longer holds is never deleted: it is marked withdrawn
    (``removed_from_source``, by the frame's source sha256), so predictions and jackpot fixtures that
    refer to it stay valid; a withdrawn match present again is reinstated (counted as updated too).
    ``extra``: ``withdrawn`` and ``reinstated`` counts.
    """
    partition = {"league": league, "season": season}
    frame = canonical.assign(**{column: None for column in WITHDRAWAL_COLUMNS})
    sources = sorted({str(sha) for sha in canonical["source_sha256"].dropna()})
    if len(sources) > 1:
        raise PublishError(f"the matches of {league}|{season} come from {len(sources)} source versions; expected one")
    counts = {"withdrawn": 0, "reinstated": 0}
    matches = sql.Identifier(SCHEMA, "matches")

    def add_parents_and_withdraw(stage: sql.Identifier) -> None:
        add_leagues(connection, [league])
        connection.execute(
            sql.SQL(
                "INSERT INTO {} (league, team) SELECT league, home_team FROM {} UNION SELECT league, away_team FROM {} "
                "ON CONFLICT DO NOTHING"
            ).format(sql.Identifier(SCHEMA, "teams"), stage, stage)
        )
        counts["reinstated"] = connection.execute(
            sql.SQL("SELECT count(*) FROM {} AS m JOIN {} AS s USING (match_id) WHERE m.withdrawn_at IS NOT NULL").format(
                matches, stage)
        ).fetchone()[0]
        if sources:
            counts["withdrawn"] = _withdraw(
                connection, league, season, REMOVED_FROM_SOURCE, sources[0],
                sql.SQL("NOT EXISTS (SELECT 1 FROM {} AS s WHERE s.match_id = m.match_id)").format(stage),
            )
        else:  # the source holds no match of the partition any more
            counts["withdrawn"] = _withdraw(connection, league, season, PARTITION_DROPPED, None, sql.SQL("true"))

    with connection.transaction():
        begin(connection, "matches", partition, role)
        result = publish_frame(
            connection, "matches", frame, partition, mode="upsert", key_columns=["match_id"],
            before_write=before_write, after_stage=add_parents_and_withdraw, delete_missing=False,
        )
    return PublishResult("matches", partition, rows=result.rows, inserted=result.inserted, updated=result.updated,
                         deleted=0, extra=counts)


def _withdraw(
    connection: psycopg.Connection, league: str, season: str, reason: str, source_sha256: str | None,
    which: sql.Composable,
) -> int:
    """Mark the partition's current matches satisfying ``which`` (alias ``m``) withdrawn; how many."""
    return connection.execute(
        sql.SQL(
            "UPDATE {} AS m SET withdrawn_at = now(), withdrawn_by_sha256 = %s, withdrawn_reason = %s "
            "WHERE m.league = %s AND m.season = %s AND m.withdrawn_at IS NULL AND {}"
        ).format(sql.Identifier(SCHEMA, "matches"), which),
        [source_sha256, reason, league, season],
    ).rowcount


def withdraw_partition(
    connection: psycopg.Connection, league: str, season: str, *, role: str | None = None
) -> PublishResult:
    """Withdraw every current match of a partition (``partition_dropped``), deleting nothing: what
    PostgreSQL does, on request, with a partition the local warehouse no longer holds."""
    partition = {"league": league, "season": season}
    with connection.transaction():
        begin(connection, "matches", partition, role)
        withdrawn = _withdraw(connection, league, season, PARTITION_DROPPED, None, sql.SQL("true"))
        rows = connection.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE league = %s AND season = %s AND withdrawn_at IS NULL").format(
                sql.Identifier(SCHEMA, "matches")), [league, season]
        ).fetchone()[0]
    return PublishResult("matches", partition, rows=rows, inserted=0, updated=0, deleted=0, extra={"withdrawn": withdrawn})


def orphaned_partitions(
    connection: psycopg.Connection, warehouse_partitions: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """(league, season) pairs with current (not withdrawn) published matches that the local warehouse
    does not hold. Publishing never deletes them; they are reported, and withdrawn only on request
    (:func:`withdraw_partition`)."""
    local = {(str(league), str(season)) for league, season in warehouse_partitions}
    published = connection.execute(
        sql.SQL("SELECT DISTINCT league, season FROM {} WHERE withdrawn_at IS NULL").format(sql.Identifier(SCHEMA, "matches"))
    ).fetchall()
    return sorted((league, season) for league, season in published if (league, season) not in local)


def publish_ingestion_logs(
    connection: psycopg.Connection,
    log: pd.DataFrame,
    league: str,
    season: str,
    *,
    role: str | None = None,
    before_write: BeforeWrite | None = None,
) -> PublishResult:
    """One partition of DuckDB ``ingestion_log`` into ``jackpot.ingestion_logs`` (delete and insert)."""
    partition = {"league": league, "season": season}
    with connection.transaction():
        begin(connection, "ingestion_logs", partition, role)
        return publish_frame(
            connection, "ingestion_logs", log, partition, mode="replace", key_columns=None,
            before_write=before_write, after_stage=lambda _stage: add_leagues(connection, [league]),
        )


def league_catalogue() -> pd.DataFrame:
    """Every league football-data.co.uk publishes, as ``jackpot.leagues`` rows."""
    return pd.DataFrame(
        [(code, name, "extra" if is_extra_league(code) else "main") for code, name in ALL_LEAGUES.items()],
        columns=["league", "name", "source_format"],
    )


def publish_leagues(connection: psycopg.Connection, leagues: pd.DataFrame | None = None, *, role: str | None = None) -> PublishResult:
    """Upsert the league catalogue. Leagues are never deleted: matches and models refer to them."""
    leagues = league_catalogue() if leagues is None else leagues[["league", "name", "source_format"]]
    with connection.transaction():
        begin(connection, "leagues", None, role)
        return publish_frame(
            connection, "leagues", leagues, None, mode="upsert", key_columns=["league"],
            delete_missing=False,
        )


def publish_teams(
    connection: psycopg.Connection,
    registry: pd.DataFrame,
    *,
    role: str | None = None,
    before_write: BeforeWrite | None = None,
) -> PublishResult:
    """The DuckDB ``teams`` registry (one row per league, team, alias) into ``jackpot.teams`` and
    ``jackpot.team_aliases``, in one transaction.

    Teams are upserted; a team no longer in the registry is deleted only when nothing refers to it
    (a match, a strength snapshot, a jackpot fixture). Aliases are replaced as a whole.
    """
    teams = registry[list(TEAM_COLUMNS)].drop_duplicates(subset=["league", "team"]).reset_index(drop=True)
    aliases = registry[list(ALIAS_COLUMNS)].reset_index(drop=True)
    retired = 0

    def retire_unreferenced(stage: sql.Identifier) -> None:
        nonlocal retired
        add_leagues(connection, sorted(set(teams["league"])))
        unreferenced = sql.SQL(" AND ").join(
            sql.SQL("NOT EXISTS (SELECT 1 FROM {} AS r WHERE r.league = t.league AND t.team IN ({}))").format(
                sql.Identifier(SCHEMA, referencing), sql.SQL(", ").join(sql.Identifier("r", c) for c in columns)
            )
            for referencing, columns in TEAM_REFERENCES
        )
        retired = connection.execute(
            sql.SQL(
                "DELETE FROM {} AS t WHERE NOT EXISTS (SELECT 1 FROM {} AS s WHERE s.league = t.league AND s.team = t.team) "
                "AND {}"
            ).format(sql.Identifier(SCHEMA, "teams"), stage, unreferenced)
        ).rowcount

    with connection.transaction():
        begin(connection, "teams", None, role)
        result = publish_frame(
            connection, "teams", teams, None, mode="upsert", key_columns=["league", "team"], before_write=before_write,
            after_stage=retire_unreferenced, delete_missing=False,
        )
        alias_result = publish_frame(
            connection, "team_aliases", aliases, None, mode="replace", key_columns=None,
        )
    return PublishResult(
        "teams", {}, rows=result.rows, inserted=result.inserted, updated=result.updated, deleted=retired,
        extra={"aliases": alias_result.rows},
    )


