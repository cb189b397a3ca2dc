"""The partition publisher against the real server: one transaction per partition, so a publish that
is killed or rejected half-way leaves the previous rows; republishing never duplicates."""

import datetime as dt
import threading

import pandas as pd
import psycopg
import pytest
from psycopg import errors

from jackpot_pipeline.publish import PublishError
from jackpot_pipeline.publish.engine import publish_partition
from jackpot_pipeline.publish.ingested import (
    TEAM_REFERENCES,
    orphaned_partitions,
    publish_ingestion_logs,
    publish_matches,
    publish_teams,
    withdraw_partition,
)
from jackpot_pipeline.sources.football_data import canonicalise, parse_source, partition_rows
from jackpot_pipeline.sources.leagues import is_extra_league
from jackpot_pipeline.sources.teams import build_team_registry
from jackpot_pipeline.sources.warehouse_schema import INGESTION_LOG_COLUMNS
from jackpot_pipeline_tests.publish.freshness import stale_partitions

pytestmark = pytest.mark.postgres


def canonical(shared_data, relpath: str, league: str, season: str) -> pd.DataFrame:
    parsed = parse_source((shared_data / relpath).read_bytes(), relpath)
    slices = partition_rows(parsed, league, None if is_extra_league(league) else season)
    return canonicalise(parsed, slices[season], snapshot_date=dt.date(2024, 7, 1)).canonical


def ingestion_log(league: str, season: str, versions: int) -> pd.DataFrame:
    """A partition's log as the ingestion asset writes it: a first version, then changes."""
    rows = []
    for n in range(versions):
        rows.append({
            "league": league, "season": season, "source_path": f"mmz4281/{season}/{league}.csv",
            "snapshot_date": pd.Timestamp("2024-06-01") + pd.Timedelta(days=n), "source_sha256": f"{n:x}" * 64,
            "previous_sha256": None if n == 0 else f"{n - 1:x}" * 64, "partition_fingerprint": f"{n:x}" * 64,
            "data_version": f"v{n}", "change": "new" if n == 0 else "changed",
            "ingested_at": pd.Timestamp("2024-06-01 12:00:00.123456") + pd.Timedelta(days=n),
            "run_id": f"run-{n}", "encoding": "ascii", "line_ending": "CRLF", "source_bytes": 1000 + n,
            "header": "Div,Date,HomeTeam", "rows_loaded": 380, "rows_canonical": 380, "rows_inserted": 380 if n == 0 else 0,
            "rows_updated": 0 if n == 0 else 1, "rows_removed": 0, "rows_unchanged": 0 if n == 0 else 379,
            "rows_quarantined": 0, "rows_blank": 0,
            "changed_match_ids": '{"inserted": 380}' if n == 0 else '{"updated": ["0123456789abcdef"]}',
        })
    return pd.DataFrame(rows, columns=INGESTION_LOG_COLUMNS)


@pytest.fixture
def e0(shared_data) -> pd.DataFrame:
    return canonical(shared_data, "mmz4281/2324/E0.csv", "E0", "2324")


def test_publishing_twice_never_duplicates_and_reports_changes(migrated, e0):
    writer = migrated.roles.writer
    with migrated.connect() as connection:
        first = publish_matches(connection, e0, "E0", "2324", role=writer)
        assert (first.rows, first.inserted, first.updated, first.deleted) == (380, 380, 0, 0)
        before = migrated.dump("matches")
        again = publish_matches(connection, e0, "E0", "2324", role=writer)
        assert (again.inserted, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 380)
        assert migrated.dump("matches") == before

        revised = e0.iloc[10:].copy()  # the publisher dropped ten rows and annotated one
        revised.loc[revised.index[0], "issues"] = "kickoff moved"
        third = publish_matches(connection, revised, "E0", "2324", role=writer)
        assert (third.rows, third.inserted, third.updated, third.deleted) == (370, 0, 1, 0)
        assert third.extra == {"withdrawn": 10, "reinstated": 0}
        # nothing deleted: the ten are kept, marked withdrawn by the revised source
        assert migrated.count("matches") == 380 and migrated.count("current_matches") == 370
        withdrawn = migrated.count(
            "matches", "withdrawn_reason = 'removed_from_source' AND withdrawn_by_sha256 = %s AND match_id = ANY(%s)",
            [e0["source_sha256"].iloc[0], list(e0["match_id"].iloc[:10])],
        )
        assert withdrawn == 10
        assert migrated.count("teams") == 20

        restored = publish_matches(connection, e0, "E0", "2324", role=writer)  # the rows are back
        assert restored.extra == {"withdrawn": 0, "reinstated": 10} and restored.inserted == 0
        assert migrated.count("current_matches") == 380 and migrated.count("matches", "withdrawn_at IS NOT NULL") == 0


@pytest.mark.parametrize("table", ["matches", "ingestion_logs"])
def test_a_publish_killed_mid_transaction_leaves_the_previous_rows(migrated, e0, table):
    writer = migrated.roles.writer
    if table == "matches":
        def publish(connection, frame, **kwargs):
            return publish_matches(connection, frame, "E0", "2324", role=writer, **kwargs)
        previous, revised = e0, e0.iloc[::2].assign(issues="revised")
    else:
        def publish(connection, frame, **kwargs):
            return publish_ingestion_logs(connection, frame, "E0", "2324", role=writer, **kwargs)
        previous, revised = ingestion_log("E0", "2324", 2), ingestion_log("E0", "2324", 3)
    with migrated.connect() as connection:
        publish(connection, previous)
    before = migrated.dump(table)

    paused, resume, backend, failures = threading.Event(), threading.Event(), [], []

    def pause_between_delete_and_insert(connection: psycopg.Connection) -> None:
        backend.append(connection.info.backend_pid)
        paused.set()
        resume.wait(60)

    def run() -> None:
        try:
            with migrated.connect() as connection:
                publish(connection, revised, before_write=pause_between_delete_and_insert)
        except Exception as error:  # noqa: BLE001 - handed to the test thread
            failures.append(error)

    publisher = threading.Thread(target=run)
    publisher.start()
    try:
        assert paused.wait(60), "the publisher never reached its pause"
        with migrated.connect() as observer:
            # the delete is done inside the open transaction, invisible from outside
            assert observer.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s", backend
            ).fetchone() == ("idle in transaction",)
            assert migrated.dump(table) == before
            assert observer.execute("SELECT pg_terminate_backend(%s)", backend).fetchone() == (True,)
    finally:
        resume.set()
        publisher.join(60)
    assert len(failures) == 1 and isinstance(failures[0], psycopg.OperationalError), failures
    assert migrated.dump(table) == before

    with migrated.connect() as connection:  # not killed, the same publish goes through
        publish(connection, revised)
    assert migrated.count("current_matches" if table == "matches" else table) == len(revised)


def test_a_rejected_row_rolls_back_the_whole_partition(migrated, e0):
    with migrated.connect() as connection:
        publish_matches(connection, e0, "E0", "2324", role=migrated.roles.writer)
        before = migrated.dump("matches")
        broken = e0.iloc[5:].copy()
        broken.loc[broken.index[-1], "result"] = "X"  # fails the table's CHECK, after the delete ran
        with pytest.raises(errors.CheckViolation):
            publish_matches(connection, broken, "E0", "2324", role=migrated.roles.writer)
        with pytest.raises(PublishError, match="outside partition"):
            publish_matches(connection, e0, "E0", "2223", role=migrated.roles.writer)
        with pytest.raises(PublishError, match="no column"):
            publish_matches(connection, e0.assign(extra=1), "E0", "2324", role=migrated.roles.writer)
    assert migrated.dump("matches") == before


def test_a_match_referred_to_by_predictions_and_a_jackpot_is_withdrawn_never_deleted(migrated, e0):
    writer = migrated.roles.writer
    match_id = e0["match_id"].iloc[0]
    with migrated.connect() as connection:
        publish_matches(connection, e0, "E0", "2324", role=writer)
        connection.execute(
            "INSERT INTO jackpot.match_predictions (match_id, set_id, prob_home, prob_draw, prob_away) "
            "VALUES (%s, 'market_close', 0.5, 0.3, 0.2)", [match_id]
        )
        connection.execute(
            "INSERT INTO jackpot.jackpots (jackpot_id, name, card_sha256) VALUES ('locked', 'Locked card', %s)", ["a" * 64]
        )
        connection.execute(
            "INSERT INTO jackpot.jackpot_fixtures (jackpot_id, position, home_team, away_team, league, kickoff, "
            "resolved_home_team, resolved_away_team, match_id) SELECT 'locked', 1, home_team, away_team, league, "
            "match_date, home_team, away_team, match_id FROM jackpot.matches WHERE match_id = %s", [match_id]
        )
        connection.execute("UPDATE jackpot.jackpots SET status = 'finalised', finalised_at = now() WHERE jackpot_id = 'locked'")
        predictions_before, fixtures_before = migrated.dump("match_predictions", exclude=("created_at",)), migrated.dump("jackpot_fixtures")

        # the publisher's next version lacks the match: the publish goes through, the row stays
        result = publish_matches(connection, e0.iloc[1:], "E0", "2324", role=writer)
        assert result.extra["withdrawn"] == 1 and result.deleted == 0
        assert connection.execute(
            "SELECT withdrawn_reason, withdrawn_by_sha256, withdrawn_at IS NOT NULL FROM jackpot.matches WHERE match_id = %s",
            [match_id],
        ).fetchone() == ("removed_from_source", e0["source_sha256"].iloc[0], True)
        assert migrated.dump("match_predictions", exclude=("created_at",)) == predictions_before
        assert migrated.dump("jackpot_fixtures") == fixtures_before
        # nobody deletes a match, not even the schema owner by hand
        with pytest.raises(errors.IntegrityConstraintViolation, match="keeps every match"):
            connection.execute("DELETE FROM jackpot.matches WHERE match_id = %s", [e0["match_id"].iloc[5]])
    assert migrated.count("matches") == 380 and migrated.count("current_matches") == 379


def test_a_partition_missing_locally_is_reported_and_withdrawn_only_on_request(migrated, shared_data, e0):
    sp1 = canonical(shared_data, "mmz4281/2324/SP1.csv", "SP1", "2324")
    writer = migrated.roles.writer
    with migrated.connect() as connection:
        publish_matches(connection, e0, "E0", "2324", role=writer)
        publish_matches(connection, sp1, "SP1", "2324", role=writer)
        # the local warehouse lost SP1|2324: publishing E0 again touches nothing of SP1
        publish_matches(connection, e0, "E0", "2324", role=writer)
        assert orphaned_partitions(connection, [("E0", "2324")]) == [("SP1", "2324")]
        assert migrated.count("current_matches", "league = 'SP1'") == 380
        withdrawn = withdraw_partition(connection, "SP1", "2324", role=writer)
        assert withdrawn.extra == {"withdrawn": 380} and withdrawn.rows == 0
        assert orphaned_partitions(connection, [("E0", "2324")]) == []
        # an empty source version withdraws the partition the same way, and its return reinstates it
        empty = publish_matches(connection, e0.iloc[:0], "E0", "2324", role=writer)
        assert empty.extra == {"withdrawn": 380, "reinstated": 0}
        assert migrated.count("matches", "withdrawn_reason = 'partition_dropped' AND withdrawn_by_sha256 IS NULL") == 760
        back = publish_matches(connection, sp1, "SP1", "2324", role=writer)
        assert back.extra == {"withdrawn": 0, "reinstated": 380}
    assert migrated.count("matches") == 760 and migrated.count("current_matches") == 380


def test_teams_are_upserted_and_retired_only_when_unreferenced(migrated, e0):
    registry = build_team_registry(e0)
    with migrated.connect() as connection:
        first = publish_teams(connection, registry, role=migrated.roles.writer)
        assert (first.rows, first.inserted, first.extra["aliases"]) == (20, 20, len(registry))
        publish_matches(connection, e0, "E0", "2324", role=migrated.roles.writer)
        connection.execute("INSERT INTO jackpot.teams (league, team) VALUES ('E0', 'Old Club')")
        shrunk = registry[registry["team"] != "Arsenal"]  # referenced by matches: kept
        result = publish_teams(connection, shrunk, role=migrated.roles.writer)
        assert (result.deleted, result.inserted, result.updated) == (1, 0, 0)
        teams = {team for (team,) in connection.execute("SELECT team FROM jackpot.teams")}
    assert "Old Club" not in teams and "Arsenal" in teams
    assert migrated.count("team_aliases") == len(shrunk)


def test_every_foreign_key_to_teams_is_guarded_when_retiring_teams(migrated):
    with migrated.connect() as connection:
        referencing = connection.execute(
            """
            SELECT c.conrelid::regclass::text, array_agg(a.attname ORDER BY a.attname)
            FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
            WHERE c.contype = 'f' AND c.confrelid = 'jackpot.teams'::regclass AND c.conrelid <> 'jackpot.team_aliases'::regclass
            GROUP BY c.oid, c.conrelid
            """
        ).fetchall()
    found = {(table, tuple(c for c in columns if c != "league")) for table, columns in referencing}
    guarded = {(f"jackpot.{table}", (column,)) for table, columns in TEAM_REFERENCES for column in columns}
    assert found == guarded


def test_later_tables_publish_through_the_generic_publisher(migrated):
    model = pd.DataFrame([{
        "model_version": "dc-E0-2324.1", "league": "E0", "parameters": {"xi": 0.0018, "seasons": 3},
        "training_start": dt.date(2021, 8, 1), "training_end": pd.Timestamp("2024-05-19"), "metrics": "{}",
        "status": "active", "reason": None,
    }])
    snapshots = pd.DataFrame({
        "league": "E0", "season": "2324", "as_of_date": pd.Timestamp("2024-05-19"), "team": ["Arsenal", "Chelsea"],
        "model_version": "dc-E0-2324.1", "attack": [0.41, 0.22], "defence": [-0.35, 0.02], "home_advantage": 0.24,
        "rho": -0.05, "xi": 0.0018, "matches_used": [38, 38], "log_likelihood": float("nan"), "converged": True,
    })
    with migrated.connect() as connection:
        connection.execute("INSERT INTO jackpot.leagues VALUES ('E0', 'England Premier League', 'main')")
        connection.execute("INSERT INTO jackpot.teams (league, team) VALUES ('E0', 'Arsenal'), ('E0', 'Chelsea')")
        writer = migrated.roles.writer
        assert publish_partition(connection, "models", model, {"league": "E0"}, role=writer).inserted == 1
        partition = {"league": "E0", "season": "2324", "as_of_date": dt.date(2024, 5, 19)}
        assert publish_partition(connection, "team_strength_snapshots", snapshots, partition, role=writer).inserted == 2
        moved = publish_partition(connection, "team_strength_snapshots", snapshots.assign(attack=[0.5, 0.22]), partition, role=writer)
        assert (moved.inserted, moved.updated, moved.unchanged) == (0, 1, 1)
        stored = connection.execute(
            "SELECT parameters ->> 'seasons', training_end FROM jackpot.models"
        ).fetchone()
        nulls = connection.execute("SELECT count(*) FROM jackpot.team_strength_snapshots WHERE log_likelihood IS NULL").fetchone()
    assert stored == ("3", dt.date(2024, 5, 19)) and nulls == (2,)


def test_stale_partitions_compare_the_latest_published_data_version(migrated):
    with migrated.connect() as connection:
        publish_ingestion_logs(connection, ingestion_log("E0", "2324", 2), "E0", "2324", role=migrated.roles.writer)
        stale = stale_partitions(connection, {("E0", "2324"): "v1", ("E0", "2223"): "v0", ("I1", "2324"): None})
    assert stale == [("E0", "2223")]


def test_pooled_rows_with_a_null_league_form_their_own_partition(migrated):
    def results(league, rps):
        return pd.DataFrame({
            "league": league, "season": "2324", "set_id": ["A", "market_close"], "n": 380, "rps": rps,
            "brier": 0.58, "log_loss": 0.98, "health": "healthy",
        })

    key = ["league", "season", "set_id"]
    with migrated.connect() as connection:
        connection.execute("INSERT INTO jackpot.leagues VALUES ('E0', 'England Premier League', 'main')")
        writer = migrated.roles.writer
        publish_partition(connection, "validation_reports", results("E0", 0.20), {"league": "E0", "season": "2324"},
                          key_columns=key, role=writer)
        pooled = {"league": None, "season": "2324"}
        first = publish_partition(connection, "validation_reports", results(None, 0.21), pooled, key_columns=key, role=writer)
        again = publish_partition(connection, "validation_reports", results(None, [0.21, 0.19]).iloc[1:], pooled,
                                  key_columns=key, role=writer)
        with pytest.raises(PublishError, match="outside partition"):
            publish_partition(connection, "validation_reports", results("E0", 0.2), pooled, key_columns=key, role=writer)
        rows = connection.execute(
            "SELECT coalesce(league, 'pooled'), set_id, rps FROM jackpot.validation_reports ORDER BY 1, 2"
        ).fetchall()
    assert (first.inserted, again.deleted, again.updated) == (2, 1, 1)
    assert rows == [("E0", "A", 0.2), ("E0", "market_close", 0.2), ("pooled", "market_close", 0.19)]


def test_form_features_and_baselines_publish_once_and_follow_a_revision(migrated, shared_data):
    from jackpot_pipeline.model.form import league_baselines, team_form_features
    from jackpot_pipeline.publish.modelled import publish_league_baselines, publish_team_form_features

    matches = pd.concat([canonical(shared_data, f"mmz4281/{s}/E0.csv", "E0", s) for s in ("2223", "2324")], ignore_index=True)
    form, baselines = team_form_features(matches, "E0", "2324"), league_baselines(matches, "E0", "2324")
    writer = migrated.roles.writer
    with migrated.connect() as connection:
        assert publish_team_form_features(connection, form, "E0", "2324", role=writer).inserted == 760
        assert publish_league_baselines(connection, baselines, "E0", "2324", role=writer).inserted == len(baselines)
        again = publish_team_form_features(connection, form, "E0", "2324", role=writer)
        assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
        # a corrected result changes the form of the two teams' later matches only
        played = matches[(matches["season"] == "2324") & (matches["status"] == "played")]
        target = played.iloc[-20]
        revised = matches.copy()
        revised.loc[revised["match_id"] == target["match_id"], ["home_goals", "result"]] = [target["home_goals"] + 4, "H"]
        changed = publish_team_form_features(connection, team_form_features(revised, "E0", "2324"), "E0", "2324", role=writer)
        assert changed.inserted == changed.deleted == 0 and 0 < changed.updated < 40
        set_ids = connection.execute("SELECT 'A0'::jackpot.set_id").fetchone()
        assert set_ids == ("A0",)
    assert migrated.count("team_form_features", "league = 'E0' AND season = '2324'") == 760
    assert migrated.count("league_baselines") == len(baselines)
