-- 0006: set A0 (pure Dixon-Coles, the baseline every model improvement is reported against) joins the
-- probability sets; team form and league baselines of each league-season, as in the DuckDB tables of
-- jackpot_pipeline.model.form (every value from matches dated strictly before the row's date).

ALTER DOMAIN jackpot.set_id DROP CONSTRAINT set_id_check;
ALTER DOMAIN jackpot.set_id ADD CONSTRAINT set_id_check
    CHECK (VALUE IN ('A0', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'market_pre', 'market_close'));

CREATE TABLE jackpot.team_form_features (
    league                   text NOT NULL REFERENCES jackpot.leagues,
    season                   jackpot.season_key NOT NULL,
    match_id                 text NOT NULL,
    match_date               date NOT NULL,
    team                     text NOT NULL,
    opponent                 text NOT NULL,
    venue                    text NOT NULL CHECK (venue IN ('home', 'away')),
    matches_before           integer NOT NULL CHECK (matches_before >= 0),
    last5_points             jackpot.finite_float CHECK (last5_points BETWEEN 0 AND 3),
    last5_goals_for          jackpot.finite_float CHECK (last5_goals_for >= 0),
    last5_goals_against      jackpot.finite_float CHECK (last5_goals_against >= 0),
    last5_sot_for            jackpot.finite_float CHECK (last5_sot_for >= 0),
    last5_sot_against        jackpot.finite_float CHECK (last5_sot_against >= 0),
    last10_points            jackpot.finite_float CHECK (last10_points BETWEEN 0 AND 3),
    last10_goals_for         jackpot.finite_float CHECK (last10_goals_for >= 0),
    last10_goals_against     jackpot.finite_float CHECK (last10_goals_against >= 0),
    last10_sot_for           jackpot.finite_float CHECK (last10_sot_for >= 0),
    last10_sot_against       jackpot.finite_float CHECK (last10_sot_against >= 0),
    home_last5_points        jackpot.finite_float CHECK (home_last5_points BETWEEN 0 AND 3),
    home_last5_goals_for     jackpot.finite_float CHECK (home_last5_goals_for >= 0),
    home_last5_goals_against jackpot.finite_float CHECK (home_last5_goals_against >= 0),
    away_last5_points        jackpot.finite_float CHECK (away_last5_points BETWEEN 0 AND 3),
    away_last5_goals_for     jackpot.finite_float CHECK (away_last5_goals_for >= 0),
    away_last5_goals_against jackpot.finite_float CHECK (away_last5_goals_against >= 0),
    rest_days                jackpot.finite_float CHECK (rest_days > 0),
    PRIMARY KEY (league, season, match_id, venue)
);

CREATE TABLE jackpot.league_baselines (
    league          text NOT NULL REFERENCES jackpot.leagues,
    season          jackpot.season_key NOT NULL,
    as_of_date      date NOT NULL,
    matches_before  integer NOT NULL CHECK (matches_before >= 0),
    home_win_rate   jackpot.finite_float CHECK (home_win_rate BETWEEN 0 AND 1),
    draw_rate       jackpot.finite_float CHECK (draw_rate BETWEEN 0 AND 1),
    away_win_rate   jackpot.finite_float CHECK (away_win_rate BETWEEN 0 AND 1),
    goals_per_match jackpot.finite_float CHECK (goals_per_match >= 0),
    home_advantage  jackpot.finite_float,
    PRIMARY KEY (league, season, as_of_date),
    CHECK ((matches_before = 0) = (draw_rate IS NULL))
);
