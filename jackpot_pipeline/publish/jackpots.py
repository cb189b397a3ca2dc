"""Publishing one finalised jackpot: its row, fixtures and predictions, in one transaction, finalised in
PostgreSQL too (the triggers then refuse every change)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

from jackpot_pipeline.publish import SCHEMA, PublishError
from jackpot_pipeline.publish.engine import PublishResult, add_leagues, add_teams, begin, stage
from jackpot_pipeline.publish.values import convert, is_missing, split_flags

JACKPOT_PREDICTION_COLUMNS = (
    "jackpot_id", "position", "set_id", "prob_home", "prob_draw", "prob_away", "lambda_home", "lambda_away",
    "edge_home", "edge_draw", "edge_away", "kelly_home", "kelly_draw", "kelly_away", "snapshot_as_of",
    "model_version", "calibration_version", "flags",
)


def _utc_offset(text: object) -> dt.timedelta | None:
    if is_missing(text):
        return None
    try:
        return dt.datetime.fromisoformat(str(text)).utcoffset()
    except ValueError:
        return None


def jackpot_fixture_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """One ``jackpot.jackpot_fixtures`` row per position of DuckDB ``jackpot_predictions`` (the card's
    names, kick-off as written with its UTC offset, the operator's odds, the resolved teams)."""
    first = predictions.sort_values(["position", "set_id"], kind="stable").drop_duplicates("position")
    frame = pd.DataFrame({
        "jackpot_id": first["jackpot_id"],
        "position": first["position"],
        "home_team": first["home_team_card"],
        "away_team": first["away_team_card"],
        "league": first["league"],
        "kickoff": first["kickoff"],
        "kickoff_utc_offset": [_utc_offset(text) for text in first["kickoff_text"]],
        "odds_home": first["odds_home"],
        "odds_draw": first["odds_draw"],
        "odds_away": first["odds_away"],
        "resolved_home_team": first["home_team"],
        "resolved_away_team": first["away_team"],
    })
    return frame.astype({"kickoff_utc_offset": object}).reset_index(drop=True)


def jackpot_prediction_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """Prediction rows of a jackpot; a fixture priced without the model says how (its fallback mode is a
    flag), which is what lets such a row go without a model version."""
    frame = predictions[list(JACKPOT_PREDICTION_COLUMNS)].copy()
    modes = predictions["mode"] if "mode" in predictions.columns else pd.Series("model", index=predictions.index)
    frame["flags"] = [
        split_flags(value) + ([str(mode)] if mode in ("market_only", "league_prior") and str(mode) not in split_flags(value) else [])
        for value, mode in zip(frame["flags"], modes, strict=True)
    ]
    return frame.reset_index(drop=True)


def _version_list(value: object) -> list[str]:
    if is_missing(value):
        return []
    decoded = json.loads(value) if isinstance(value, str) else value
    values = decoded.values() if isinstance(decoded, dict) else decoded
    return sorted({str(v) for v in values if v is not None})


def publish_jackpot(
    connection: psycopg.Connection, jackpot: Mapping[str, Any], predictions: pd.DataFrame, *, role: str | None = None,
) -> PublishResult:
    """One finalised jackpot of DuckDB (``jackpots`` row + its ``jackpot_predictions``) into
    ``jackpot.jackpots``, ``jackpot.jackpot_fixtures`` and ``jackpot.match_predictions``, in one transaction.

    The owner is the card's owner (the writer role when the card names none). The jackpot is inserted
    as a draft, its fixtures and predictions added, then it is finalised; the triggers refuse every
    later change. Republishing a jackpot already finalised in PostgreSQL with the same card (sha256) is
    a no-op; a different card under the same id is refused (PublishError), never updated.
    """
    jackpot_id = str(jackpot["jackpot_id"])
    partition = {"jackpot_id": jackpot_id}
    jackpots = sql.Identifier(SCHEMA, "jackpots")
    fixtures, rows = jackpot_fixture_rows(predictions), jackpot_prediction_rows(predictions)
    finalised_at = convert("timestamp with time zone", jackpot["finalised_at"])
    with connection.transaction():
        begin(connection, "jackpots", partition, role)
        existing = connection.execute(
            sql.SQL("SELECT status, card_sha256 FROM {} WHERE jackpot_id = %s FOR UPDATE").format(jackpots), [jackpot_id]
        ).fetchone()
        if existing is not None and existing[0] == "finalised":
            if existing[1] != jackpot["card_sha256"]:
                raise PublishError(
                    f"jackpot {jackpot_id} is finalised in PostgreSQL with card sha256 {existing[1]}, DuckDB holds "
                    f"{jackpot['card_sha256']}: finalised jackpots are immutable")
            n = connection.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE jackpot_id = %s").format(sql.Identifier(SCHEMA, "match_predictions")), [jackpot_id]
            ).fetchone()[0]
            return PublishResult("jackpots", partition, rows=1, inserted=0, updated=0, deleted=0,
                                 extra={"fixtures": len(fixtures), "predictions": n, "already_finalised": 1})
        deleted = 0
        if existing is not None:  # a draft (not written by this pipeline): replaced as a whole
            deleted = connection.execute(sql.SQL("DELETE FROM {} WHERE jackpot_id = %s").format(jackpots), [jackpot_id]).rowcount
        connection.execute(
            sql.SQL(
                "INSERT INTO {} (jackpot_id, name, operator, owner, status, card_sha256, model_versions, created_at) "
                "VALUES (%s, %s, %s, coalesce(%s, current_user), 'draft', %s, %s, %s)"
            ).format(jackpots),
            [jackpot_id, jackpot["name"], None if is_missing(jackpot.get("operator")) else jackpot["operator"],
             None if is_missing(jackpot.get("owner")) else jackpot["owner"], jackpot["card_sha256"],
             _version_list(jackpot.get("model_versions")), finalised_at],
        )
        staged = stage(connection, "jackpot_fixtures", fixtures).name
        add_leagues(connection, sorted({lg for lg in fixtures["league"] if not is_missing(lg)}))
        add_teams(connection, staged, [("league", "resolved_home_team"), ("league", "resolved_away_team")])
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in fixtures.columns)
        n_fixtures = connection.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(sql.Identifier(SCHEMA, "jackpot_fixtures"), columns, columns, staged)
        ).rowcount
        # the published match a resolved fixture is, when jackpot.matches holds it
        connection.execute(
            sql.SQL(
                "UPDATE {} AS f SET match_id = m.match_id FROM {} AS m WHERE f.jackpot_id = %s AND m.league = f.league "
                "AND m.home_team = f.resolved_home_team AND m.away_team = f.resolved_away_team AND m.match_date = f.kickoff::date"
            ).format(sql.Identifier(SCHEMA, "jackpot_fixtures"), sql.Identifier(SCHEMA, "matches")),
            [jackpot_id],
        )
        staged = stage(connection, "match_predictions", rows).name
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in rows.columns)
        n_predictions = connection.execute(
            sql.SQL("INSERT INTO {} ({}, match_id) SELECT {}, f.match_id FROM {} AS s JOIN {} AS f USING (jackpot_id, position)").format(
                sql.Identifier(SCHEMA, "match_predictions"), columns,
                sql.SQL(", ").join(sql.Identifier("s", c) for c in rows.columns), staged,
                sql.Identifier(SCHEMA, "jackpot_fixtures"))
        ).rowcount
        if n_predictions != len(rows):
            raise PublishError(f"jackpot {jackpot_id}: {len(rows)} prediction rows, {n_predictions} with a fixture")
        connection.execute(
            sql.SQL("UPDATE {} SET status = 'finalised', finalised_at = %s WHERE jackpot_id = %s").format(jackpots),
            [finalised_at, jackpot_id],
        )
    return PublishResult("jackpots", partition, rows=1, inserted=1, updated=0, deleted=deleted,
                         extra={"fixtures": n_fixtures, "predictions": n_predictions, "already_finalised": 0})


