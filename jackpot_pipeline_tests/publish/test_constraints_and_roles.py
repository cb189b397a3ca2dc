"""PostgreSQL itself rejects bad rows and changes to finalised jackpots, the auditor
writes nothing, and an analyst sees only the jackpots they own. All statements run as the roles
(``SET ROLE`` / ``SET SESSION AUTHORIZATION``), never as the superuser that owns the tables."""

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors, sql

from jackpot_pipeline_tests.publish.conftest import Database, acting_as

pytestmark = pytest.mark.postgres

MATCH = "0123456789abcdef"
SHA = "ab" * 32


def seed(connection: psycopg.Connection) -> None:
    """What the pipeline published before anyone drew up a jackpot (as the owner)."""
    connection.execute("INSERT INTO jackpot.leagues VALUES ('E0', 'England Premier League', 'main')")
    connection.execute("INSERT INTO jackpot.teams (league, team) VALUES ('E0', 'Arsenal'), ('E0', 'Chelsea')")
    connection.execute(
        "INSERT INTO jackpot.matches (match_id, league, season, match_date, home_team, away_team, source_home_team, "
        "source_away_team, status, source_path, source_sha256, source_row) VALUES "
        "(%s, 'E0', '2324', '2024-05-01', 'Arsenal', 'Chelsea', 'Arsenal', 'Chelsea', 'scheduled', "
        "'mmz4281/2324/E0.csv', %s, 2)", [MATCH, SHA]
    )
    connection.execute(
        "INSERT INTO jackpot.models (model_version, league, parameters, training_start, training_end, status) "
        "VALUES ('dc-E0-1', 'E0', '{\"xi\": 0.0018}', '2021-08-01', '2024-04-30', 'active')"
    )
    connection.execute(
        "INSERT INTO jackpot.match_predictions (match_id, set_id, prob_home, prob_draw, prob_away, model_version) "
        "VALUES (%s, 'A', 0.5, 0.3, 0.2, 'dc-E0-1')", [MATCH]
    )


def create_jackpot(connection: psycopg.Connection, jackpot_id: str, owner: str, *, finalise: bool) -> None:
    """As the writer: a jackpot with one fixture and its prediction, finalised or left as a draft."""
    connection.execute(
        "INSERT INTO jackpot.jackpots (jackpot_id, name, operator, owner, card_sha256, model_versions) "
        "VALUES (%s, %s, 'SportPesa', %s, %s, ARRAY['dc-E0-1'])", [jackpot_id, f"Mega {jackpot_id}", owner, SHA]
    )
    connection.execute(
        "INSERT INTO jackpot.jackpot_fixtures (jackpot_id, position, home_team, away_team, league, kickoff, "
        "kickoff_utc_offset, odds_home, odds_draw, odds_away, resolved_home_team, resolved_away_team, match_id) VALUES "
        "(%s, 1, 'Arsenal FC', 'Chelsea FC', 'E0', '2024-05-01 20:00', '1 hour', 1.9, 3.6, 4.2, 'Arsenal', 'Chelsea', %s)",
        [jackpot_id, MATCH],
    )
    connection.execute(
        "INSERT INTO jackpot.match_predictions (match_id, jackpot_id, position, set_id, prob_home, prob_draw, prob_away, "
        "model_version, flags) VALUES (%s, %s, 1, 'B', 0.48, 0.28, 0.24, 'dc-E0-1', ARRAY['uncalibrated'])",
        [MATCH, jackpot_id],
    )
    if finalise:
        connection.execute(
            "UPDATE jackpot.jackpots SET status = 'finalised', finalised_at = now() WHERE jackpot_id = %s", [jackpot_id]
        )


@pytest.fixture
def writer(migrated: Database) -> Iterator[psycopg.Connection]:
    with migrated.connect() as connection:
        seed(connection)
        with acting_as(connection, migrated.roles.writer):
            yield connection


@pytest.mark.parametrize(
    "probabilities",
    [(1.2, 0.0, 0.0), (-0.1, 0.6, 0.5), (0.5, 0.3, 0.3), (0.5, 0.3, 0.2 - 2e-6), (float("nan"), 0.5, 0.5)],
    ids=["above-one", "negative", "sum-1.1", "sum-off-by-2e-6", "nan"],
)
def test_an_invalid_probability_row_is_rejected(writer, probabilities):
    with pytest.raises(errors.CheckViolation):
        writer.execute(
            "INSERT INTO jackpot.match_predictions (match_id, set_id, prob_home, prob_draw, prob_away, model_version) "
            "VALUES (%s, 'C', %s, %s, %s, 'dc-E0-1')", [MATCH, *probabilities]
        )
    writer.execute(  # control: a valid row, within 1e-6 of summing to one
        "INSERT INTO jackpot.match_predictions (match_id, set_id, prob_home, prob_draw, prob_away, model_version) "
        "VALUES (%s, 'C', 0.5, 0.3, %s, 'dc-E0-1')", [MATCH, 0.2 + 5e-7]
    )


def test_a_duplicate_ingestion_log_is_rejected(writer):
    insert = (
        "INSERT INTO jackpot.ingestion_logs (league, season, source_path, snapshot_date, source_sha256, "
        "partition_fingerprint, data_version, change, ingested_at, run_id, encoding, line_ending, source_bytes, header, "
        "rows_loaded, rows_canonical, rows_inserted, rows_updated, rows_removed, rows_unchanged, rows_quarantined, "
        "rows_blank, changed_match_ids) VALUES ('E0', '2324', 'mmz4281/2324/E0.csv', '2024-06-01', %s, %s, 'v1', 'new', "
        "%s, %s, 'ascii', 'CRLF', 172196, 'Div,Date', 380, 380, 380, 0, 0, 0, 0, 0, '{}')"
    )
    writer.execute(insert, [SHA, SHA, "2024-06-01 12:00Z", "run-1"])
    # the same source version logged again by another run, later
    with pytest.raises(errors.UniqueViolation) as raised:
        writer.execute(insert, [SHA, SHA, "2024-06-02 12:00Z", "run-2"])
    assert "source_path" in raised.value.diag.message_detail


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE jackpot.match_predictions SET prob_home = 0.5, prob_draw = 0.26 WHERE jackpot_id = 'JP-1'",
        "DELETE FROM jackpot.match_predictions WHERE jackpot_id = 'JP-1'",
        "UPDATE jackpot.match_predictions SET jackpot_id = 'JP-1', position = 1, set_id = 'G' WHERE jackpot_id = 'draft-1'",
        "INSERT INTO jackpot.match_predictions (jackpot_id, position, set_id, prob_home, prob_draw, prob_away, model_version) "
        "VALUES ('JP-1', 1, 'G', 0.4, 0.3, 0.3, 'dc-E0-1')",
        "UPDATE jackpot.jackpot_fixtures SET odds_home = 2.1 WHERE jackpot_id = 'JP-1'",
        "DELETE FROM jackpot.jackpot_fixtures WHERE jackpot_id = 'JP-1'",
        "INSERT INTO jackpot.jackpot_fixtures (jackpot_id, position, home_team, away_team, kickoff) "
        "VALUES ('JP-1', 2, 'Alpha', 'Beta', '2024-05-02 15:00')",
        "UPDATE jackpot.jackpots SET status = 'draft', finalised_at = NULL WHERE jackpot_id = 'JP-1'",
        "DELETE FROM jackpot.jackpots WHERE jackpot_id = 'JP-1'",
    ],
    ids=["update-prediction", "delete-prediction", "move-prediction-in", "add-prediction", "update-fixture",
         "delete-fixture", "add-fixture", "reopen-jackpot", "delete-jackpot"],
)
def test_a_finalised_jackpot_cannot_change(writer, statement):
    create_jackpot(writer, "JP-1", "someone", finalise=True)
    create_jackpot(writer, "draft-1", "someone", finalise=False)
    with pytest.raises(errors.IntegrityConstraintViolation, match="finalised"):
        writer.execute(statement)


def test_a_draft_jackpot_can_change_and_nobody_truncates_finalised_ones(migrated, writer):
    create_jackpot(writer, "draft-1", "someone", finalise=False)
    assert writer.execute("UPDATE jackpot.match_predictions SET prob_home = 0.5, prob_draw = 0.26 WHERE jackpot_id = 'draft-1'").rowcount == 1
    assert writer.execute("DELETE FROM jackpot.jackpots WHERE jackpot_id = 'draft-1'").rowcount == 1
    create_jackpot(writer, "JP-1", "someone", finalise=True)
    with pytest.raises(errors.InsufficientPrivilege):
        writer.execute("TRUNCATE jackpot.match_predictions")
    with migrated.connect() as owner, pytest.raises(errors.IntegrityConstraintViolation, match="finalised"):
        owner.execute("TRUNCATE jackpot.match_predictions")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE jackpot.matches SET odds_home = 1.0, odds_draw = 3.0, odds_away = 4.0, odds_source = 'B365'",
        "UPDATE jackpot.matches SET result = 'X', status = 'played', home_goals = 1, away_goals = 0",
        "UPDATE jackpot.matches SET result = 'A', status = 'played', home_goals = 1, away_goals = 0",
        "UPDATE jackpot.models SET status = 'retired'",
        "INSERT INTO jackpot.jackpots (jackpot_id, name, operator, card_sha256) VALUES ('JP 1; DROP TABLE x', 'n', 'o', "
        "repeat('a', 64))",
        "INSERT INTO jackpot.jackpots (jackpot_id, name, operator, card_sha256, status) VALUES ('JP-2', 'n', 'o', "
        "repeat('a', 64), 'closed')",
        "INSERT INTO jackpot.jackpots (jackpot_id, name, operator, card_sha256, status) VALUES ('JP-2', 'n', 'o', "
        "repeat('a', 64), 'finalised')",
        "INSERT INTO jackpot.jackpots (jackpot_id, name, operator, card_sha256) VALUES ('JP-2', 'n', 'o', 'not-a-sha')",
        "INSERT INTO jackpot.match_predictions (match_id, set_id, prob_home, prob_draw, prob_away, model_version) "
        "VALUES ('0123456789abcdef', 'Z', 0.5, 0.3, 0.2, 'dc-E0-1')",
        "INSERT INTO jackpot.match_predictions (match_id, set_id, prob_home, prob_draw, prob_away) "
        "VALUES ('0123456789abcdef', 'B', 0.5, 0.3, 0.2)",
        "INSERT INTO jackpot.validation_reports (league, season, set_id, n, rps, brier, log_loss, health) "
        "VALUES ('E0', '2324', 'A', 380, 0.2, 0.6, 1.0, 'fine')",
        "INSERT INTO jackpot.calibration_curves (season, league, method, calibration_version) "
        "VALUES ('2324', 'E0', 'platt', 'abc123')",
    ],
    ids=["odds-below-1.01", "result-not-HDA", "result-contradicts-goals", "model-status", "jackpot-id-chars",
         "jackpot-status", "finalised-without-time", "card-sha256", "set-id", "model-set-without-version",
         "health", "calibration-method"],
)
def test_check_constraints_reject_bad_values(writer, statement):
    with pytest.raises(errors.CheckViolation):
        writer.execute(statement)


@pytest.mark.parametrize(
    "assignment",
    ["odds_draw = 1.009", "odds_home = NULL", "away_team = 'ARSENAL FC'", "home_team = 'A'", "kickoff_utc_offset = '15 hours'"],
)
def test_fixture_values_are_checked(writer, assignment):
    create_jackpot(writer, "draft-1", "someone", finalise=False)
    with pytest.raises(errors.CheckViolation):
        writer.execute(f"UPDATE jackpot.jackpot_fixtures SET {assignment} WHERE jackpot_id = 'draft-1'")
    writer.execute(  # control: the odds are 1.01 at least, all three or none
        "UPDATE jackpot.jackpot_fixtures SET odds_draw = 1.01 WHERE jackpot_id = 'draft-1'"
    )
    writer.execute(
        "UPDATE jackpot.jackpot_fixtures SET odds_home = NULL, odds_draw = NULL, odds_away = NULL WHERE jackpot_id = 'draft-1'"
    )


def test_the_auditor_reads_everything_and_writes_nothing(migrated, writer):
    create_jackpot(writer, "JP-1", "alice", finalise=True)
    create_jackpot(writer, "draft-1", "bob", finalise=False)
    with migrated.connect() as connection, acting_as(connection, migrated.roles.auditor):
        assert connection.execute("SELECT count(*) FROM jackpot.jackpots").fetchone() == (2,)
        assert connection.execute("SELECT count(*) FROM jackpot.match_predictions").fetchone() == (3,)
        for table in migrated.tables():
            target = sql.Identifier("jackpot", table)
            connection.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(target))
            first_column = connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'jackpot' AND table_name = %s "
                "ORDER BY ordinal_position LIMIT 1", [table]
            ).fetchone()[0]
            for statement in (
                sql.SQL("INSERT INTO {} DEFAULT VALUES").format(target),
                sql.SQL("UPDATE {} SET {} = {}").format(target, sql.Identifier(first_column), sql.Identifier(first_column)),
                sql.SQL("DELETE FROM {}").format(target),
                sql.SQL("TRUNCATE {} CASCADE").format(target),
            ):
                with pytest.raises(errors.InsufficientPrivilege):
                    connection.execute(statement)
        with pytest.raises(errors.InsufficientPrivilege):
            connection.execute("CREATE TABLE jackpot.auditor_notes (note text)")
        with pytest.raises(errors.InsufficientPrivilege):
            connection.execute("SELECT nextval(pg_get_serial_sequence('jackpot.match_predictions', 'prediction_id'))")


def test_an_analyst_reads_only_the_jackpots_they_own(migrated, writer):
    analyst = migrated.roles.analyst
    alice, bob = migrated.create_login("alice", analyst), migrated.create_login("bob", analyst)
    create_jackpot(writer, "alice-1", alice, finalise=True)
    create_jackpot(writer, "bob-1", bob, finalise=False)
    with migrated.connect() as connection:
        # the login itself, as if alice had connected: current_user and session_user are alice
        connection.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(alice)))
        assert connection.execute("SELECT current_user, session_user").fetchone() == (alice, alice)
        assert connection.execute("SELECT jackpot_id, owner FROM jackpot.jackpots").fetchall() == [("alice-1", alice)]
        assert connection.execute("SELECT jackpot_id FROM jackpot.jackpot_fixtures").fetchall() == [("alice-1",)]
        assert sorted(connection.execute("SELECT coalesce(jackpot_id, '-') FROM jackpot.match_predictions").fetchall()) == [
            ("-",), ("alice-1",)  # match predictions are not anybody's
        ]
        # the earlier name, a view, shows no more
        assert sorted(connection.execute("SELECT coalesce(jackpot_id, '-') FROM jackpot.predictions").fetchall()) == [
            ("-",), ("alice-1",)
        ]
        for table in ("jackpots", "jackpot_fixtures", "match_predictions", "predictions"):
            assert connection.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE jackpot_id = %s").format(sql.Identifier("jackpot", table)), ["bob-1"]
            ).fetchone() == (0,)
        # published data is readable, writing is not
        assert connection.execute("SELECT count(*) FROM jackpot.matches").fetchone() == (1,)
        with pytest.raises(errors.InsufficientPrivilege):
            connection.execute(
                "INSERT INTO jackpot.jackpots (jackpot_id, name, operator, card_sha256) VALUES ('x', 'n', 'o', repeat('a', 64))"
            )
        with pytest.raises(errors.InsufficientPrivilege):
            connection.execute("SELECT * FROM jackpot.schema_migrations")
        # a session setting could be forged; another analyst's role cannot be assumed
        connection.execute(sql.SQL("SET jackpot.owner = {}").format(sql.Literal(bob)))
        assert connection.execute("SELECT count(*) FROM jackpot.jackpots WHERE owner = %s", [bob]).fetchone() == (0,)
        with pytest.raises(errors.InsufficientPrivilege):
            connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(bob)))
        connection.execute("RESET SESSION AUTHORIZATION")
        connection.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(bob)))
        assert connection.execute("SELECT jackpot_id FROM jackpot.jackpots").fetchall() == [("bob-1",)]
        assert connection.execute("SELECT count(*) FROM jackpot.match_predictions WHERE jackpot_id IS NOT NULL").fetchone() == (1,)


def test_jackpot_fallback_rows_need_no_model_version_but_must_say_why(writer):
    """Migration 0004: a fixture priced from the operator's market or the league prior has no model version."""
    create_jackpot(writer, "JP-F", "someone", finalise=False)
    insert = (
        "INSERT INTO jackpot.match_predictions (jackpot_id, position, set_id, prob_home, prob_draw, prob_away, flags) "
        "VALUES ('JP-F', 1, 'A', 0.45, 0.3, 0.25, %s)"
    )
    writer.execute(insert, [["market_only", "unresolved_team"]])
    with pytest.raises(errors.CheckViolation, match="predictions_model_sets_carry_a_version"):
        writer.execute(insert.replace("'A'", "'C'"), [["unresolved_team"]])
