"""Publishers of what modelling produces, one league × season (or the whole registry) per transaction:
team-strength snapshots, team form and league baselines, match predictions, calibrations, validation
reports, the model registry and training runs.

Tables whose rows carry a generated identity key (predictions, calibrations, validation reports) are
synchronised on their natural key (see :func:`~jackpot_pipeline.publish.engine.synchronise`), so an
unchanged republish writes nothing and keeps identities and ``created_at`` stamps."""

from __future__ import annotations

import pandas as pd
import psycopg
from psycopg import sql

from jackpot_pipeline.model.form import LEAGUE_BASELINE_COLUMNS, TEAM_FORM_COLUMNS
from jackpot_pipeline.publish import SCHEMA, PublishError
from jackpot_pipeline.publish.engine import (
    PublishResult,
    add_leagues,
    add_teams,
    begin,
    publish_frame,
    stage,
    synchronise,
)
from jackpot_pipeline.publish.values import split_flags

# The columns each Postgres table is written with, in the order the publishers stage them.
PUBLISHED_SNAPSHOT_COLUMNS = (
    "league", "season", "as_of_date", "team", "model_version", "attack", "defence", "home_advantage", "intercept",
    "rho", "xi", "shrinkage", "is_promoted", "matches_used", "effective_weight", "log_likelihood", "converged",
    "iterations",
)
PUBLISHED_PREDICTION_COLUMNS = (
    "match_id", "set_id", "prob_home", "prob_draw", "prob_away", "lambda_home", "lambda_away", "edge_home",
    "edge_draw", "edge_away", "kelly_home", "kelly_draw", "kelly_away", "snapshot_as_of", "model_version",
    "calibration_version", "flags",
)
PROBABILITY_COLUMNS = ("prob_home", "prob_draw", "prob_away")
PUBLISHED_CALIBRATION_COLUMNS = (
    "season", "league", "scope", "method", "calibration_version", "trained_on_start", "trained_on_end", "cutoff_date",
    "n_train", "n_league_rows", "candidate_scores", "calibrator", "stacked_pool", "isotonic_bins", "flags",
)
PUBLISHED_VALIDATION_COLUMNS = (
    "league", "season", "set_id", "n", "n_missing", "rps", "rps_se", "brier", "log_loss", "log_loss_se", "ece",
    "ece_noise", "accuracy", "n_paired_market_pre", "rps_diff_market_pre", "rps_diff_market_pre_se",
    "log_loss_diff_market_pre", "log_loss_diff_market_pre_se", "n_paired_market_close", "rps_diff_market_close",
    "rps_diff_market_close_se", "log_loss_diff_market_close", "log_loss_diff_market_close_se", "health",
    "health_reasons",
)
PUBLISHED_MODEL_COLUMNS = (
    "model_version", "league", "parameters", "training_start", "training_end", "metrics", "status", "reason",
    "code_version", "evaluation_season", "input_data_versions", "created_at",
)
TRAINING_RUN_COLUMNS = (
    "run_id", "model_version", "league", "recorded_at", "registry_status", "objective", "code_version", "parameters",
    "data_start", "data_end", "seasons", "n_partitions", "n_matches", "metrics",
)


def publish_team_strength_snapshots(
    connection: psycopg.Connection, snapshots: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One partition of DuckDB ``team_strength_snapshots`` (upsert on the primary key, one transaction).
    Teams and the league are added first when missing (foreign keys)."""
    partition = {"league": league, "season": season}
    frame = snapshots[list(PUBLISHED_SNAPSHOT_COLUMNS)]

    def add_parents(staged: sql.Identifier) -> None:
        add_leagues(connection, [league])
        add_teams(connection, staged, [("league", "team")])

    with connection.transaction():
        begin(connection, "team_strength_snapshots", partition, role)
        return publish_frame(
            connection, "team_strength_snapshots", frame, partition, mode="upsert", key_columns=None,
            after_stage=add_parents,
        )


def _publish_league_season_table(
    connection: psycopg.Connection, table: str, frame: pd.DataFrame, league: str, season: str, role: str | None,
    key_columns: list[str] | None = None,
) -> PublishResult:
    """One league × season of ``table`` (upsert on ``key_columns``, default the primary key), its league
    added first when missing."""
    partition = {"league": league, "season": season}
    with connection.transaction():
        begin(connection, table, partition, role)
        return publish_frame(
            connection, table, frame.reset_index(drop=True), partition, mode="upsert", key_columns=key_columns,
            after_stage=lambda _staged: add_leagues(connection, [league]),
        )


def publish_team_form_features(
    connection: psycopg.Connection, form: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One partition of ``team_form_features`` (upsert on league, season, match_id, venue; one transaction)."""
    return _publish_league_season_table(connection, "team_form_features", form[list(TEAM_FORM_COLUMNS)], league, season, role)


def publish_league_baselines(
    connection: psycopg.Connection, baselines: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One partition of ``league_baselines`` (upsert on league, season, as_of_date; one transaction)."""
    return _publish_league_season_table(
        connection, "league_baselines", baselines[list(LEAGUE_BASELINE_COLUMNS)], league, season, role)


def publish_validation_reports(
    connection: psycopg.Connection, reports: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One league × season of DuckDB ``validation_reports`` into ``jackpot.validation_reports``,
    synchronised on (league, season, set_id) in one transaction (reliability bins and the report's
    context columns have no place in the table and stay in DuckDB)."""
    return _publish_league_season_table(
        connection, "validation_reports", reports[list(PUBLISHED_VALIDATION_COLUMNS)], league, season, role,
        key_columns=["league", "season", "set_id"])


def match_prediction_rows(predictions: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """DuckDB ``match_predictions`` rows as ``jackpot.match_predictions`` rows, and how many were skipped:
    rows without probabilities (market rows of matches without odds) cannot satisfy the table's CHECKs."""
    usable = predictions[list(PROBABILITY_COLUMNS)].notna().all(axis=1)
    frame = predictions.loc[usable, list(PUBLISHED_PREDICTION_COLUMNS)].copy()
    frame["flags"] = [split_flags(value) for value in frame["flags"]]
    return frame.reset_index(drop=True), int((~usable).sum())


def publish_match_predictions(
    connection: psycopg.Connection, predictions: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One league × season of DuckDB ``match_predictions`` into ``jackpot.match_predictions`` (match rows,
    ``jackpot_id`` NULL), synchronised on (match_id, set_id) in one transaction. The partition is the
    published matches of that league and season, so ``jackpot.matches`` must hold them already.
    ``extra["skipped_without_probabilities"]``: rows left out (see :func:`match_prediction_rows`)."""
    frame, skipped = match_prediction_rows(predictions)
    partition = {"league": league, "season": season}
    matches = sql.Identifier(SCHEMA, "matches")
    scope = sql.SQL("t.jackpot_id IS NULL AND t.match_id IN (SELECT match_id FROM {} WHERE league = %s AND season = %s)").format(matches)
    with connection.transaction():
        begin(connection, "match_predictions", partition, role)
        staged = stage(connection, "match_predictions", frame)
        outside = connection.execute(
            sql.SQL("SELECT count(*) FROM {} AS s WHERE NOT EXISTS (SELECT 1 FROM {} AS m WHERE m.match_id = s.match_id "
                    "AND m.league = %s AND m.season = %s)").format(staged.name, matches),
            [league, season],
        ).fetchone()[0]
        if outside:
            raise PublishError(
                f"{outside} prediction row(s) name matches that jackpot.matches does not hold for {league}|{season}: "
                "publish the matches first")
        inserted, updated, deleted = synchronise(
            connection, staged, ["match_id", "set_id"], scope=scope, scope_values=[league, season])
        rows = connection.execute(sql.SQL("SELECT count(*) FROM {} AS t WHERE {}").format(
            sql.Identifier(SCHEMA, "match_predictions"), scope), [league, season]).fetchone()[0]
    return PublishResult("match_predictions", partition, rows=rows, inserted=inserted, updated=updated, deleted=deleted,
                         extra={"skipped_without_probabilities": skipped})


def calibration_rows(curves: pd.DataFrame) -> pd.DataFrame:
    """DuckDB ``calibration_curves`` rows as ``jackpot.calibration_curves`` rows (flags as an array,
    missing candidate scores as ``{}``)."""
    frame = curves[list(PUBLISHED_CALIBRATION_COLUMNS)].copy()
    frame["flags"] = [split_flags(value) for value in frame["flags"]]
    frame["candidate_scores"] = frame["candidate_scores"].where(frame["candidate_scores"].notna(), "{}")
    return frame.reset_index(drop=True)


def publish_calibration_curves(
    connection: psycopg.Connection, curves: pd.DataFrame, league: str, season: str, *, role: str | None = None,
) -> PublishResult:
    """One league × season of DuckDB ``calibration_curves`` into ``jackpot.calibration_curves``, synchronised on
    (season, league, calibration_version) in one transaction."""
    return _publish_league_season_table(
        connection, "calibration_curves", calibration_rows(curves), league, season, role,
        key_columns=["season", "league", "calibration_version"])


def model_rows(state: pd.DataFrame) -> pd.DataFrame:
    """The registry's current state (one row per version, see ``model.validation.registry_state``) as
    ``jackpot.models`` rows; JSON columns that are NOT NULL there default to ``{}``."""
    frame = state.copy()
    frame["created_at"] = frame["created_at"].where(frame["created_at"].notna(), frame["recorded_at"])
    for column in ("parameters", "metrics"):
        frame[column] = frame[column].where(frame[column].notna(), "{}")
    return frame[list(PUBLISHED_MODEL_COLUMNS)].reset_index(drop=True)


def training_run_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """DuckDB ``training_runs`` rows as ``jackpot.training_runs`` rows (missing metrics as ``{}``)."""
    frame = runs[list(TRAINING_RUN_COLUMNS)].copy()
    frame["metrics"] = frame["metrics"].where(frame["metrics"].notna(), "{}")
    return frame.reset_index(drop=True)


def publish_models(
    connection: psycopg.Connection, models: pd.DataFrame, runs: pd.DataFrame, *, role: str | None = None,
) -> tuple[PublishResult, PublishResult]:
    """The model registry's current state into ``jackpot.models`` and the training-run audit into
    ``jackpot.training_runs``, in one transaction. Append-only: versions and runs are inserted once and
    never deleted; a version's row changes only when the registry changed its status (supersession),
    and versions leaving 'active' are updated before any becomes active (one active per league)."""
    models, runs = model_rows(models), training_run_rows(runs)
    with connection.transaction():
        begin(connection, "models", None, role)
        add_leagues(connection, sorted(set(models["league"]) | set(runs["league"])))
        staged = stage(connection, "models", models)
        updated = 0
        for becomes_active in (False, True):
            condition = sql.SQL("s.status = 'active'" if becomes_active else "s.status <> 'active'")
            updated += synchronise(connection, staged, ["model_version"], delete_missing=False, insert=False,
                                   stage_filter=condition)[1]
        inserted = synchronise(connection, staged, ["model_version"], delete_missing=False, update=False)[0]
        model_rows_now = _count(connection, "models")
        runs_inserted = synchronise(connection, stage(connection, "training_runs", runs), ["run_id", "model_version"],
                                    delete_missing=False, update=False)[0]
        run_rows_now = _count(connection, "training_runs")
    return (
        PublishResult("models", {}, rows=model_rows_now, inserted=inserted, updated=updated, deleted=0),
        PublishResult("training_runs", {}, rows=run_rows_now, inserted=runs_inserted, updated=0, deleted=0),
    )


def _count(connection: psycopg.Connection, table: str) -> int:
    return connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, table))).fetchone()[0]
