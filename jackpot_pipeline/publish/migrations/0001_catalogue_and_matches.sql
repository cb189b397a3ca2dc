-- 0001: the ingested side of the warehouse: leagues, teams (+ aliases), matches, ingestion logs.
-- Column names follow the DuckDB tables (jackpot_pipeline/sources/warehouse_schema.py) so a
-- partition read from DuckDB is written here without renaming.

-- Domains carry the value rules shared by several tables; NaN fails every one of them because
-- PostgreSQL orders NaN above Infinity.
CREATE DOMAIN jackpot.probability AS double precision
    CHECK (VALUE >= 0 AND VALUE <= 1);
CREATE DOMAIN jackpot.decimal_odds AS double precision
    CHECK (VALUE >= 1.01 AND VALUE < 'Infinity');
CREATE DOMAIN jackpot.finite_float AS double precision
    CHECK (VALUE > '-Infinity' AND VALUE < 'Infinity');
CREATE DOMAIN jackpot.sha256 AS text
    CHECK (VALUE ~ '^[0-9a-f]{64}$');
-- '2324' (2023/24) for split seasons, '2023' for calendar-year leagues
CREATE DOMAIN jackpot.season_key AS text
    CHECK (VALUE ~ '^[0-9]{4}$');

CREATE TABLE jackpot.leagues (
    league        text PRIMARY KEY CHECK (league ~ '^[A-Z][A-Z0-9]{0,7}$'),
    name          text NOT NULL CHECK (name <> ''),
    source_format text NOT NULL CHECK (source_format IN ('main', 'extra'))
);

CREATE TABLE jackpot.teams (
    league       text NOT NULL REFERENCES jackpot.leagues,
    team         text NOT NULL CHECK (team <> ''),
    first_season jackpot.season_key,
    last_season  jackpot.season_key,
    n_matches    integer CHECK (n_matches >= 0),
    PRIMARY KEY (league, team)
);

CREATE TABLE jackpot.team_aliases (
    league       text NOT NULL,
    team         text NOT NULL,
    alias        text NOT NULL CHECK (alias <> ''),
    alias_key    text NOT NULL,
    alias_source text NOT NULL CHECK (alias_source IN ('source', 'curated')),
    PRIMARY KEY (league, team, alias),
    FOREIGN KEY (league, team) REFERENCES jackpot.teams ON DELETE CASCADE
);
CREATE INDEX team_aliases_lookup ON jackpot.team_aliases (league, alias_key);

CREATE TABLE jackpot.matches (
    match_id             text PRIMARY KEY CHECK (match_id ~ '^[0-9a-f]{16}$'),
    league               text NOT NULL REFERENCES jackpot.leagues,
    season               jackpot.season_key NOT NULL,
    competition          text,
    match_date           date NOT NULL,
    kickoff_time         text CHECK (kickoff_time ~ '^[0-2][0-9]:[0-5][0-9]$'),
    home_team            text NOT NULL,
    away_team            text NOT NULL,
    source_home_team     text NOT NULL,
    source_away_team     text NOT NULL,
    status               text NOT NULL CHECK (status IN ('played', 'scheduled', 'unplayed')),
    home_goals           integer CHECK (home_goals >= 0),
    away_goals           integer CHECK (away_goals >= 0),
    result               text CHECK (result IN ('H', 'D', 'A')),
    ht_home_goals        integer CHECK (ht_home_goals >= 0),
    ht_away_goals        integer CHECK (ht_away_goals >= 0),
    ht_result            text CHECK (ht_result IN ('H', 'D', 'A')),
    home_shots           integer CHECK (home_shots >= 0),
    away_shots           integer CHECK (away_shots >= 0),
    home_shots_on_target integer CHECK (home_shots_on_target >= 0),
    away_shots_on_target integer CHECK (away_shots_on_target >= 0),
    odds_home            jackpot.decimal_odds,
    odds_draw            jackpot.decimal_odds,
    odds_away            jackpot.decimal_odds,
    odds_source          text,
    closing_odds_home    jackpot.decimal_odds,
    closing_odds_draw    jackpot.decimal_odds,
    closing_odds_away    jackpot.decimal_odds,
    closing_odds_source  text,
    issues               text,
    source_path          text NOT NULL,
    source_sha256        jackpot.sha256 NOT NULL,
    source_row           bigint NOT NULL CHECK (source_row >= 1),
    FOREIGN KEY (league, home_team) REFERENCES jackpot.teams (league, team),
    FOREIGN KEY (league, away_team) REFERENCES jackpot.teams (league, team),
    CHECK (home_team <> away_team),
    CHECK (num_nulls(home_goals, away_goals, result) IN (0, 3)),
    CHECK ((status = 'played') = (result IS NOT NULL)),
    CHECK (result IS NULL OR result = CASE WHEN home_goals > away_goals THEN 'H'
                                           WHEN home_goals = away_goals THEN 'D' ELSE 'A' END),
    CHECK (num_nulls(odds_home, odds_draw, odds_away, odds_source) IN (0, 4)),
    CHECK (num_nulls(closing_odds_home, closing_odds_draw, closing_odds_away, closing_odds_source) IN (0, 4))
);
CREATE INDEX matches_partition ON jackpot.matches (league, season);
CREATE INDEX matches_away_team ON jackpot.matches (league, away_team);
CREATE INDEX matches_home_team ON jackpot.matches (league, home_team);

-- One row per ingested version of a partition's source (DuckDB ingestion_log).
CREATE TABLE jackpot.ingestion_logs (
    league                text NOT NULL REFERENCES jackpot.leagues,
    season                jackpot.season_key NOT NULL,
    source_path           text NOT NULL,
    snapshot_date         date NOT NULL,
    source_sha256         jackpot.sha256 NOT NULL,
    previous_sha256       jackpot.sha256,
    partition_fingerprint jackpot.sha256 NOT NULL,
    data_version          text NOT NULL CHECK (data_version <> ''),
    change                text NOT NULL CHECK (change IN ('new', 'changed')),
    ingested_at           timestamptz NOT NULL,
    run_id                text NOT NULL,
    encoding              text NOT NULL,
    line_ending           text NOT NULL,
    source_bytes          bigint NOT NULL CHECK (source_bytes >= 0),
    header                text NOT NULL,
    rows_loaded           bigint NOT NULL CHECK (rows_loaded >= 0),
    rows_canonical        bigint NOT NULL CHECK (rows_canonical >= 0),
    rows_inserted         bigint NOT NULL CHECK (rows_inserted >= 0),
    rows_updated          bigint NOT NULL CHECK (rows_updated >= 0),
    rows_removed          bigint NOT NULL CHECK (rows_removed >= 0),
    rows_unchanged        bigint NOT NULL CHECK (rows_unchanged >= 0),
    rows_quarantined      bigint NOT NULL CHECK (rows_quarantined >= 0),
    rows_blank            bigint NOT NULL CHECK (rows_blank >= 0),
    changed_match_ids     jsonb NOT NULL,
    PRIMARY KEY (league, season, ingested_at),
    -- one log per transition of a source into a version: the same bytes parsed by the same parser
    -- after the same predecessor are never logged twice
    UNIQUE NULLS NOT DISTINCT (source_path, league, season, source_sha256, data_version, previous_sha256),
    CHECK ((change = 'new') = (previous_sha256 IS NULL))
);
