"""Every warehouse table: its columns with DuckDB types, and how its rows are split into files.

Each table is a folder of Parquet files below the warehouse root. The layout decides what a file holds:

- ``league_season``: one file per league × season partition (``E0-2324.parquet``), rewritten whole;
- ``jackpot``: one file per jackpot card (``<jackpot_id>.parquet``);
- ``whole``: one file for the whole table (``all.parquet``), rewritten whole;
- ``append``: append-only, one file per batch of rows, named by the rows' content, never rewritten.

Types are declared here rather than inferred from the first frame written: an all-empty column of one
partition must not decide the type of every later one, and every reader sees the same types whichever
files exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from jackpot_pipeline.sources.warehouse_schema import TABLE_COLUMNS as INGESTION_COLUMNS

Layout = Literal["league_season", "jackpot", "whole", "append"]


@dataclass(frozen=True)
class Table:
    name: str
    layout: Layout
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type)
    not_null: frozenset[str] = frozenset()

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _parse(text: str) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    """``"a VARCHAR NOT NULL, b DOUBLE"`` -> columns and the NOT NULL ones."""
    columns, required = [], set()
    for piece in text.split(","):
        words = piece.split()
        if not words:
            continue
        name, kind = words[0], words[1]
        if " ".join(words[2:]).upper() == "NOT NULL":
            required.add(name)
        elif len(words) > 2:
            raise ValueError(f"cannot read column definition {piece.strip()!r}")
        columns.append((name, kind))
    return tuple(columns), frozenset(required)


# the scores of one probability set, per league-season (validation_reports) and per scope (validation_summary)
_SCORE_COLUMNS = """
    set_id VARCHAR, n BIGINT, n_missing BIGINT, rps DOUBLE, rps_se DOUBLE, brier DOUBLE, log_loss DOUBLE,
    log_loss_se DOUBLE, ece DOUBLE, ece_noise DOUBLE, accuracy DOUBLE, n_paired_market_pre BIGINT,
    rps_diff_market_pre DOUBLE, rps_diff_market_pre_se DOUBLE, log_loss_diff_market_pre DOUBLE,
    log_loss_diff_market_pre_se DOUBLE, n_paired_market_close BIGINT, rps_diff_market_close DOUBLE,
    rps_diff_market_close_se DOUBLE, log_loss_diff_market_close DOUBLE, log_loss_diff_market_close_se DOUBLE,
    health VARCHAR, health_reasons VARCHAR, first_match_date TIMESTAMP_NS, last_match_date TIMESTAMP_NS,
    n_scheduled BIGINT, min_season_match_index BIGINT
"""

_DEFINITIONS: dict[str, tuple[Layout, str]] = {
    "team_strength_snapshots": ("league_season", """
        league VARCHAR NOT NULL, season VARCHAR NOT NULL, as_of_date TIMESTAMP_NS, team VARCHAR, attack DOUBLE,
        defence DOUBLE, home_advantage DOUBLE, intercept DOUBLE, rho DOUBLE, xi DOUBLE, shrinkage DOUBLE,
        is_promoted BOOLEAN, matches_used BIGINT, effective_weight DOUBLE, log_likelihood DOUBLE, converged BOOLEAN,
        iterations BIGINT, model_version VARCHAR
    """),
    "uncalibrated_predictions": ("league_season", """
        match_id VARCHAR, league VARCHAR NOT NULL, season VARCHAR NOT NULL, match_date TIMESTAMP, home_team VARCHAR,
        away_team VARCHAR, status VARCHAR, result VARCHAR, season_match_index BIGINT, snapshot_as_of TIMESTAMP_NS,
        model_version VARCHAR, lambda_home DOUBLE, lambda_away DOUBLE, model_home DOUBLE, model_draw DOUBLE,
        model_away DOUBLE, market_pre_home DOUBLE, market_pre_draw DOUBLE, market_pre_away DOUBLE,
        market_pre_margin DOUBLE, market_close_home DOUBLE, market_close_draw DOUBLE, market_close_away DOUBLE,
        market_close_margin DOUBLE, odds_home DOUBLE, odds_draw DOUBLE, odds_away DOUBLE, flags VARCHAR,
        baseline_home DOUBLE, baseline_draw DOUBLE, baseline_away DOUBLE
    """),
    "team_form_features": ("league_season", """
        league VARCHAR NOT NULL, season VARCHAR NOT NULL, match_id VARCHAR, match_date TIMESTAMP_NS, team VARCHAR,
        opponent VARCHAR, venue VARCHAR, matches_before BIGINT, last5_points DOUBLE, last5_goals_for DOUBLE,
        last5_goals_against DOUBLE, last5_sot_for DOUBLE, last5_sot_against DOUBLE, last10_points DOUBLE,
        last10_goals_for DOUBLE, last10_goals_against DOUBLE, last10_sot_for DOUBLE, last10_sot_against DOUBLE,
        home_last5_points DOUBLE, home_last5_goals_for DOUBLE, home_last5_goals_against DOUBLE,
        away_last5_points DOUBLE, away_last5_goals_for DOUBLE, away_last5_goals_against DOUBLE, rest_days DOUBLE
    """),
    "league_baselines": ("league_season", """
        league VARCHAR NOT NULL, season VARCHAR NOT NULL, as_of_date TIMESTAMP_NS, matches_before BIGINT,
        home_win_rate DOUBLE, draw_rate DOUBLE, away_win_rate DOUBLE, goals_per_match DOUBLE, home_advantage DOUBLE
    """),
    "calibration_curves": ("league_season", """
        season VARCHAR NOT NULL, league VARCHAR NOT NULL, scope VARCHAR, method VARCHAR, calibration_version VARCHAR,
        trained_on_start TIMESTAMP_NS, trained_on_end TIMESTAMP_NS, cutoff_date TIMESTAMP_NS, n_train BIGINT,
        n_league_rows BIGINT, candidate_scores VARCHAR, calibrator VARCHAR, stacked_pool VARCHAR,
        isotonic_bins VARCHAR, flags VARCHAR
    """),
    "match_predictions": ("league_season", """
        match_id VARCHAR, league VARCHAR NOT NULL, season VARCHAR NOT NULL, match_date TIMESTAMP, home_team VARCHAR,
        away_team VARCHAR, status VARCHAR, result VARCHAR, season_match_index BIGINT, set_id VARCHAR,
        prob_home DOUBLE, prob_draw DOUBLE, prob_away DOUBLE, lambda_home DOUBLE, lambda_away DOUBLE,
        edge_home DOUBLE, edge_draw DOUBLE, edge_away DOUBLE, kelly_home DOUBLE, kelly_draw DOUBLE,
        kelly_away DOUBLE, snapshot_as_of TIMESTAMP_NS, model_version VARCHAR, calibration_version VARCHAR,
        flags VARCHAR
    """),
    "validation_reports": ("league_season", f"""
        league VARCHAR NOT NULL, season VARCHAR NOT NULL, {_SCORE_COLUMNS}, reliability VARCHAR
    """),
    "validation_summary": ("whole", f"""
        scope VARCHAR, league VARCHAR, season VARCHAR, {_SCORE_COLUMNS}
    """),
    "data_freshness": ("whole", """
        league VARCHAR, last_match_date TIMESTAMP_NS, latest_snapshot_date TIMESTAMP_NS, days_behind BIGINT,
        stale BOOLEAN
    """),
    "teams": ("whole", """
        league VARCHAR, team VARCHAR, alias VARCHAR, alias_key VARCHAR, alias_source VARCHAR, first_season VARCHAR,
        last_season VARCHAR, n_matches BIGINT
    """),
    "model_registry": ("append", """
        event_id BIGINT NOT NULL, recorded_at TIMESTAMP, run_id VARCHAR, league VARCHAR, model_version VARCHAR,
        event VARCHAR, status VARCHAR, reason VARCHAR, code_version VARCHAR, parameters VARCHAR,
        input_data_versions VARCHAR, training_start DATE, training_end DATE, evaluation_season VARCHAR,
        metrics VARCHAR, created_at TIMESTAMP
    """),
    "training_runs": ("append", """
        run_id VARCHAR NOT NULL, recorded_at TIMESTAMP, league VARCHAR NOT NULL, model_version VARCHAR,
        registry_status VARCHAR, objective VARCHAR, code_version VARCHAR, parameters VARCHAR, data_start DATE,
        data_end DATE, seasons VARCHAR, n_partitions BIGINT, n_matches BIGINT, metrics VARCHAR
    """),
    "jackpots": ("jackpot", """
        jackpot_id VARCHAR NOT NULL, name VARCHAR NOT NULL, operator VARCHAR, owner VARCHAR,
        card_path VARCHAR NOT NULL, card_sha256 VARCHAR NOT NULL, card_json VARCHAR NOT NULL,
        n_fixtures INTEGER NOT NULL, model_versions VARCHAR NOT NULL, calibration_versions VARCHAR NOT NULL,
        content_sha256 VARCHAR NOT NULL, code_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
        finalised_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL
    """),
    "jackpot_predictions": ("jackpot", """
        jackpot_id VARCHAR NOT NULL, position INTEGER NOT NULL, set_id VARCHAR NOT NULL,
        home_team_card VARCHAR NOT NULL, away_team_card VARCHAR NOT NULL, home_team VARCHAR, away_team VARCHAR,
        league VARCHAR, season VARCHAR, kickoff TIMESTAMP NOT NULL, kickoff_text VARCHAR NOT NULL,
        mode VARCHAR NOT NULL, prob_home DOUBLE NOT NULL, prob_draw DOUBLE NOT NULL, prob_away DOUBLE NOT NULL,
        pick VARCHAR NOT NULL, entropy_bits DOUBLE NOT NULL, confidence VARCHAR NOT NULL, lambda_home DOUBLE,
        lambda_away DOUBLE, snapshot_league VARCHAR, snapshot_season VARCHAR, snapshot_as_of DATE,
        model_version VARCHAR, calibration_version VARCHAR, flags VARCHAR NOT NULL, warnings VARCHAR NOT NULL,
        explanation VARCHAR NOT NULL, odds_home DOUBLE, odds_draw DOUBLE, odds_away DOUBLE, market_home DOUBLE,
        market_draw DOUBLE, market_away DOUBLE, edge_home DOUBLE, edge_draw DOUBLE, edge_away DOUBLE,
        kelly_home DOUBLE, kelly_draw DOUBLE, kelly_away DOUBLE, run_id VARCHAR NOT NULL,
        finalised_at TIMESTAMP NOT NULL
    """),
    "jackpot_validation": ("jackpot", """
        jackpot_id VARCHAR NOT NULL, set_id VARCHAR NOT NULL, n_fixtures INTEGER NOT NULL, n_scored INTEGER NOT NULL,
        correct_picks INTEGER NOT NULL, all_correct BOOLEAN NOT NULL, brier DOUBLE, log_loss DOUBLE, rps DOUBLE,
        picks VARCHAR NOT NULL, run_id VARCHAR NOT NULL, validated_at TIMESTAMP NOT NULL
    """),
    "jackpot_results": ("jackpot", """
        jackpot_id VARCHAR NOT NULL, position INTEGER NOT NULL, result VARCHAR, source VARCHAR,
        detail VARCHAR NOT NULL, notes VARCHAR NOT NULL, run_id VARCHAR NOT NULL, validated_at TIMESTAMP NOT NULL
    """),
}


def _ingestion_table(name: str) -> Table:
    columns, required = _parse(", ".join(f"{column} {kind}" for column, kind in INGESTION_COLUMNS[name]))
    return Table(name, "league_season", columns, required)


TABLES: dict[str, Table] = {
    **{name: _ingestion_table(name) for name in INGESTION_COLUMNS},
    **{name: Table(name, layout, *_parse(text)) for name, (layout, text) in _DEFINITIONS.items()},
}


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no warehouse table {name!r}; known: {', '.join(sorted(TABLES))}") from None
