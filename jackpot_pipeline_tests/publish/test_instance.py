"""The instance profile: JACKPOT_INSTANCE selects the template DAGSTER_HOME gets; with ``postgres`` the
runs, event logs and schedules of a real materialisation end up in PostgreSQL."""

import json
import subprocess
import sys

import pytest
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.run_coordinator import QueuedRunCoordinator

from jackpot_pipeline.publish.instance import (
    MARKER,
    InstanceProfileError,
    instance_profile,
    postgres_enabled,
    prepare_dagster_home,
    render_profile,
    storage_settings,
    templates,
)
from jackpot_pipeline.settings import PROJECT_ROOT, Settings
from jackpot_pipeline_tests.defs.conftest import Workspace

DSN = "postgresql://jackpot:s3cret@db.example:6543/warehouse"


def test_the_profile_is_chosen_by_one_setting():
    assert instance_profile({}) == "sqlite"
    assert instance_profile({"JACKPOT_INSTANCE": " Postgres ", "JACKPOT_PG_DSN": DSN}) == "postgres"
    with pytest.raises(InstanceProfileError, match="JACKPOT_PG_DSN"):
        instance_profile({"JACKPOT_INSTANCE": "postgres"})
    with pytest.raises(InstanceProfileError, match="choose one of"):
        instance_profile({"JACKPOT_INSTANCE": "mysql"})
    assert postgres_enabled({"JACKPOT_PG_DSN": DSN}) and not postgres_enabled({"JACKPOT_PG_DSN": "  "})


@pytest.mark.parametrize(
    ("dsn", "environment", "params"),
    [
        (DSN, {"JACKPOT_PG_HOST": "db.example", "JACKPOT_PG_PORT": "6543", "JACKPOT_PG_USER": "jackpot",
               "JACKPOT_PG_PASSWORD": "s3cret", "JACKPOT_PG_DB": "warehouse"}, {}),
        ("host=127.0.0.1 user=postgres dbname=test sslmode=require", {
            "JACKPOT_PG_HOST": "127.0.0.1", "JACKPOT_PG_PORT": "5432", "JACKPOT_PG_USER": "postgres",
            "JACKPOT_PG_PASSWORD": "", "JACKPOT_PG_DB": "test"}, {"sslmode": "require"}),
        ("host=/var/run/postgresql user=me", {
            "JACKPOT_PG_HOST": "", "JACKPOT_PG_PORT": "5432", "JACKPOT_PG_USER": "me", "JACKPOT_PG_PASSWORD": "",
            "JACKPOT_PG_DB": "me"}, {"host": "/var/run/postgresql"}),
    ],
)
def test_the_storage_variables_come_from_the_dsn(dsn, environment, params):
    assert storage_settings(dsn) == (environment, params)


def test_the_generated_file_is_the_template_and_never_holds_the_password(tmp_path):
    home = tmp_path / "home"
    env = {"JACKPOT_INSTANCE": "postgres", "JACKPOT_PG_DSN": DSN + "?sslmode=require"}
    prepared = prepare_dagster_home(home, env)
    text = (home / "dagster.yaml").read_text()
    assert prepared.written and prepared.profile == "postgres" and text.startswith(MARKER)
    assert "s3cret" not in text and "sslmode: require" in text and "postgresql+psycopg2" in text
    assert prepared.environment["JACKPOT_PG_PASSWORD"] == "s3cret"
    assert not prepare_dagster_home(home, env).written  # unchanged: left alone

    back = prepare_dagster_home(home, {})  # switching back to the default rewrites it
    assert back.written and (home / "dagster.yaml").read_text() == render_profile("sqlite", {})
    assert back.environment == {}


def test_a_hand_made_file_is_kept_but_never_silently_used_for_postgres(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # a plain copy of a template (what the Makefile and the old CLI made) is replaced
    (home / "dagster.yaml").write_text(templates()["sqlite"].read_text())
    assert prepare_dagster_home(home, {"JACKPOT_INSTANCE": "postgres", "JACKPOT_PG_DSN": DSN}).written
    custom = "telemetry:\n  enabled: false\n"
    (home / "dagster.yaml").write_text(custom)
    kept = prepare_dagster_home(home, {})
    assert kept.custom and not kept.written and (home / "dagster.yaml").read_text() == custom
    with pytest.raises(InstanceProfileError, match="without Postgres storage"):
        prepare_dagster_home(home, {"JACKPOT_INSTANCE": "postgres", "JACKPOT_PG_DSN": DSN})


def test_the_module_prints_exports_for_a_shell(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "JACKPOT_INSTANCE": "postgres", "JACKPOT_PG_DSN": DSN, "DAGSTER_HOME": str(tmp_path)}
    shown = subprocess.run(
        [sys.executable, "-m", "jackpot_pipeline.publish.instance"], cwd=PROJECT_ROOT, env=env,
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert f"export DAGSTER_HOME={tmp_path}" in shown.stdout and "export JACKPOT_PG_PORT=6543" in shown.stdout
    assert (tmp_path / "dagster.yaml").read_text().startswith(f"{MARKER} postgres")


@pytest.mark.postgres
def test_a_postgres_instance_keeps_runs_and_materialisations_in_postgres(tmp_path, shared_data, database, monkeypatch,
                                                                         publishing_to):
    """One database for both uses: Dagster's storage in its default schema, the published warehouse in ``jackpot``."""
    home = tmp_path / "home"
    prepared = prepare_dagster_home(home, {"JACKPOT_INSTANCE": "postgres", "JACKPOT_PG_DSN": database.dsn})
    for name, value in prepared.environment.items():
        monkeypatch.setenv(name, value)
    publishing_to(database)
    settings = Settings(base_url=shared_data.as_uri(), leagues=("E0",), seasons_spec="2324", data_dir=tmp_path / "data")
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert {type(s).__name__ for s in (instance.run_storage, instance.event_log_storage, instance.schedule_storage)} == {
            "PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"
        }
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2
        assert not instance.telemetry_enabled
        workspace = Workspace(settings, instance, shared_data)
        workspace.copy("mmz4281/2324/E0.csv")
        outcome = workspace.pipeline()
        assert outcome.success, outcome.failed

    with database.connect() as connection:
        runs = connection.execute("SELECT run_id, pipeline_name, status FROM public.runs ORDER BY create_timestamp").fetchall()
        materialisations = connection.execute(
            "SELECT asset_key, partition, run_id FROM public.event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
            "ORDER BY id"
        ).fetchall()
        partitions = connection.execute("SELECT partitions_def_name, partition FROM public.dynamic_partitions ORDER BY 1").fetchall()
        matches = connection.execute("SELECT count(*) FROM jackpot.matches").fetchone()[0]
    # one changed partition: one run through all its stages, then the unpartitioned tables, then the
    # partition's publication and the catalogue's
    assert [run["label"] for run in outcome.runs] == [
        "ingest+walk_forward+calibration+match_predictions+validation_reports+form_features E0|2324",
        "teams+validation_summary+model_registry+data_freshness",
        "publish_league_season E0|2324",
        "publish_catalog",
    ]
    assert runs == [(run["run_id"], job, "SUCCESS") for run, job in zip(outcome.runs, [
        "league_season_job", "warehouse_job", "publish_league_season_job", "publish_catalog_job"], strict=True)]
    by_asset = {(json.loads(key)[0], partition, run_id) for key, partition, run_id in materialisations}
    chain, tables, published, catalog = (run["run_id"] for run in outcome.runs)
    assert by_asset == {
        *((name, "E0|2324", chain) for name in (
            "raw_matches", "canonical_matches", "quarantined_rows", "ingestion_log", "withdrawn_matches",
            "team_strength_snapshots",
            "uncalibrated_predictions", "calibration_curves", "match_predictions", "validation_reports",
            "team_form_features", "league_baselines")),
        *((name, None, tables) for name in (
            "teams", "validation_summary", "model_registry", "training_runs", "data_freshness")),
        *((name, "E0|2324", published) for name in (
            "published_matches", "published_ingestion_logs", "published_team_strength_snapshots",
            "published_match_predictions", "published_validation_reports", "published_calibration_curves",
            "published_team_form_features", "published_league_baselines")),
        *((name, None, catalog) for name in ("published_leagues", "published_teams", "published_models")),
    }
    assert partitions == [("league_season", "E0|2324")]
    assert matches == 380
