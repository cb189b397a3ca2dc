"""Versioned migrations: applied once, each in its own transaction, checksums verified."""

import hashlib
import threading

import pytest
from psycopg import errors, sql

from jackpot_pipeline.publish.migrate import (
    MIGRATIONS_DIR,
    Migration,
    MigrationError,
    applied_migrations,
    discover_migrations,
    migrate,
)
from jackpot_pipeline.publish.database import prepare_database
from jackpot_pipeline_tests.publish.conftest import acting_as

pytestmark = pytest.mark.postgres

TABLES = {
    "leagues", "teams", "team_aliases", "matches", "ingestion_logs", "team_strength_snapshots", "models",
    "training_runs", "calibration_curves", "validation_reports", "jackpots", "jackpot_fixtures", "match_predictions",
    "schema_migrations", "team_form_features", "league_baselines",
}


def test_the_committed_migrations_are_numbered_without_gaps():
    migrations = discover_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.checksum == hashlib.sha256((MIGRATIONS_DIR / m.filename).read_bytes()).hexdigest() for m in migrations)


def test_migrate_creates_the_schema_once(database):
    with database.connect() as connection:
        first = migrate(connection)
        second = migrate(connection)
        recorded = applied_migrations(connection)
    latest = len(discover_migrations())
    assert first.applied == tuple(range(1, latest + 1)) and first.already_applied == ()
    assert second.applied == () and second.current_version == latest
    assert [(v, c) for v, _, c in recorded] == [(m.version, m.checksum) for m in discover_migrations()]
    assert set(database.tables()) == TABLES


def test_a_failing_migration_leaves_no_trace_and_the_earlier_ones_applied(database):
    good = Migration(1, "first", "CREATE TABLE jackpot.first (id integer PRIMARY KEY);", "a" * 64)
    bad = Migration(2, "second", "CREATE TABLE jackpot.second (id integer); SELECT 1 / 0;", "b" * 64)
    with database.connect() as connection:
        with pytest.raises(errors.DivisionByZero):
            migrate(connection, [good, bad])
        assert [v for v, _, _ in applied_migrations(connection)] == [1]
        assert connection.execute("SELECT to_regclass('jackpot.second')").fetchone() == (None,)
        fixed = Migration(2, "second", "CREATE TABLE jackpot.second (id integer);", "c" * 64)
        assert migrate(connection, [good, fixed]).applied == (2,)


def test_an_edited_or_unknown_migration_stops_everything(database):
    first = Migration(1, "first", "CREATE TABLE jackpot.first (id integer);", "a" * 64)
    second = Migration(2, "second", "CREATE TABLE jackpot.second (id integer);", "b" * 64)
    with database.connect() as connection:
        migrate(connection, [first])
        edited = Migration(1, "first", "CREATE TABLE jackpot.first (id bigint);", "f" * 64)
        with pytest.raises(MigrationError, match="changed after it was applied"):
            migrate(connection, [edited, second])
        assert connection.execute("SELECT to_regclass('jackpot.second')").fetchone() == (None,)
        migrate(connection, [first, second])
        with pytest.raises(MigrationError, match="does not know"):
            migrate(connection, [first])


def test_migration_files_must_be_numbered_without_gaps(tmp_path):
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="without gaps"):
        discover_migrations(tmp_path)
    (tmp_path / "2_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_"):
        discover_migrations(tmp_path)


def test_concurrent_preparations_apply_each_migration_once(database):
    failures, reports = [], []

    def prepare():
        try:
            with database.connect() as connection:
                reports.append(prepare_database(connection, database.roles))
        except Exception as error:  # noqa: BLE001 - handed to the test thread
            failures.append(error)

    threads = [threading.Thread(target=prepare) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert sorted(len(report.applied) for report in reports) == [0, 0, len(discover_migrations())]


def test_the_renamed_tables_keep_their_rows_and_their_earlier_names_as_read_only_views(database):
    renaming = next(m for m in discover_migrations() if m.name == "dataset_names")
    earlier = [m for m in discover_migrations() if m.version < renaming.version]
    with database.connect() as connection:
        migrate(connection, earlier)
        connection.execute("INSERT INTO jackpot.leagues VALUES ('E0', 'England Premier League', 'main')")
        connection.execute("INSERT INTO jackpot.validation_results (league, season, set_id, n, rps, brier, log_loss, health) "
                           "VALUES ('E0', '2324', 'A', 380, 0.2, 0.6, 1.0, 'healthy')")
        connection.execute("INSERT INTO jackpot.calibration_data (season, league, method, calibration_version) "
                           "VALUES ('2324', 'E0', 'identity', 'abc123')")
        prepare_database(connection, database.roles)
        # the rows, their identities and the identity sequences moved with the tables
        assert connection.execute("SELECT validation_id, rps FROM jackpot.validation_reports").fetchall() == [(1, 0.2)]
        assert connection.execute("SELECT calibration_id, method FROM jackpot.calibration_curves").fetchall() == [(1, "identity")]
        connection.execute("INSERT INTO jackpot.validation_reports (league, season, set_id, n, rps, brier, log_loss, health) "
                           "VALUES ('E0', '2324', 'B', 380, 0.19, 0.6, 1.0, 'healthy')")
        kinds = dict(connection.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'jackpot' AND c.relname IN ('calibration_data', 'validation_results', 'predictions', "
            "'calibration_curves', 'validation_reports', 'match_predictions')").fetchall())
        assert kinds == {"calibration_data": "v", "validation_results": "v", "predictions": "v",
                         "calibration_curves": "r", "validation_reports": "r", "match_predictions": "r"}
        with acting_as(connection, database.roles.analyst):
            assert connection.execute("SELECT set_id::text, rps FROM jackpot.validation_results ORDER BY 1").fetchall() == [
                ("A", 0.2), ("B", 0.19)]
            assert connection.execute("SELECT count(*) FROM jackpot.calibration_data").fetchone() == (1,)
            assert connection.execute("SELECT count(*) FROM jackpot.predictions").fetchone() == (0,)
        # the views are for readers: the writer publishes to the tables
        with acting_as(connection, database.roles.writer):
            for view in ("calibration_data", "validation_results", "predictions"):
                connection.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier("jackpot", view)))
                with pytest.raises(errors.InsufficientPrivilege):
                    connection.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier("jackpot", view)))
