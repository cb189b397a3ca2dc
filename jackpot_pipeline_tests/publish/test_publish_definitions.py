"""The Dagster shell of publishing: resources with and without JACKPOT_PG_DSN, the code location with the
publishing assets and jobs only when it is set, and ``new_csv_sensor`` planning the publishing runs."""

import pytest
from dagster import AssetKey, EnvVar, build_sensor_context, materialize

from jackpot_pipeline.definitions import build_definitions, build_resources
from jackpot_pipeline.defs.jackpots import jackpot_resources
from jackpot_pipeline.defs.local_runs import failure_message
from jackpot_pipeline.defs.publish import PostgresResource, publish_assets, publish_catalog, publish_resources
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.planning.publishing import LEAGUE_SEASON_SOURCES, publish_stages

PUBLISH_JOBS = {"publish_league_season_job", "publish_catalog_job", "publish_jackpots_job"}
LEAGUE_SEASON_ASSETS = {"published_matches", "published_ingestion_logs", "published_team_strength_snapshots",
                        "published_match_predictions", "published_validation_reports", "published_calibration_curves",
                        "published_team_form_features", "published_league_baselines"}


def test_resources_follow_the_dsn_setting():
    enabled = publish_resources(environ={"JACKPOT_PG_DSN": "host=db", "JACKPOT_PG_ROLE_PREFIX": "staging_"})["postgres"]
    assert enabled.dsn == EnvVar("JACKPOT_PG_DSN") and enabled.roles.writer == "staging_jackpot_writer"
    disabled = publish_resources(environ={})["postgres"]
    assert disabled.dsn == "" and disabled.roles.analyst == "jackpot_analyst"


def test_without_a_dsn_publishing_refuses_with_the_reason(tmp_path):
    resources = {"postgres": PostgresResource(dsn=""), "warehouse": WarehouseResource(root=str(tmp_path / "warehouse"))}
    result = materialize([publish_catalog], resources=resources, raise_on_error=False)
    assert not result.success
    assert "JACKPOT_PG_DSN is not set, so publishing to PostgreSQL is disabled" in failure_message(result)


def test_the_code_location_has_the_publishing_assets_only_with_a_dsn(workspace, monkeypatch):
    monkeypatch.delenv("JACKPOT_PG_DSN", raising=False)
    plain = build_definitions(workspace.settings)
    assert not plain.resolve_asset_graph().has(AssetKey("published_matches"))
    assert not PUBLISH_JOBS & {job.name for job in plain.resolve_all_job_defs()}
    assert not PUBLISH_JOBS & {job.name for sensor in plain.sensors for job in sensor.jobs}

    monkeypatch.setenv("JACKPOT_PG_DSN", "host=127.0.0.1 dbname=nowhere")
    defs = build_definitions(workspace.settings)
    graph = defs.resolve_asset_graph()
    for name in LEAGUE_SEASON_ASSETS:
        assert graph.get(AssetKey(name)).partitions_def.name == "league_season", name
    assert graph.get(AssetKey("published_matches")).parent_keys == {AssetKey("canonical_matches")}
    assert graph.get(AssetKey("published_ingestion_logs")).parent_keys == {AssetKey("ingestion_log")}
    assert graph.get(AssetKey("published_calibration_curves")).parent_keys == {AssetKey("calibration_curves")}
    assert graph.get(AssetKey("published_teams")).parent_keys == {AssetKey("teams")}
    assert graph.get(AssetKey("published_models")).parent_keys == {AssetKey("model_registry"), AssetKey("training_runs")}
    assert graph.get(AssetKey("published_jackpots")).partitions_def.name == "jackpots"
    assert graph.get(AssetKey("published_jackpots")).parent_keys == {AssetKey("jackpot_predictions")}
    jobs = {job.name: job for job in defs.resolve_all_job_defs()}
    assert PUBLISH_JOBS <= set(jobs)
    assert {k.to_user_string() for k in jobs["publish_league_season_job"].asset_layer.selected_asset_keys} == LEAGUE_SEASON_ASSETS
    assert {key.to_user_string() for asset in publish_assets for key in asset.keys} == LEAGUE_SEASON_ASSETS | {
        "published_leagues", "published_teams", "published_models", "published_jackpots"}
    (sensor,) = defs.sensors
    assert PUBLISH_JOBS <= {job.name for job in sensor.jobs}
    assert defs.resources["postgres"].dsn == EnvVar("JACKPOT_PG_DSN")


def test_a_publishing_stage_is_another_stage_for_every_target():
    one, other = publish_stages("127.0.0.1:5432/a#1"), publish_stages("127.0.0.1:5432/a#2")
    assert [stage.name for stage in one] == ["publish_league_season", "publish_catalog", "publish_jackpots"]
    assert one[0].reads == LEAGUE_SEASON_SOURCES
    inputs = {"canonical_matches[E0|2324]": "v1"}
    assert one[0].fingerprint(inputs) != other[0].fingerprint(inputs)  # a re-created database is published again
    assert one[0].fingerprint(inputs) == publish_stages("127.0.0.1:5432/a#1")[0].fingerprint(inputs)


@pytest.mark.postgres
def test_the_sensor_plans_publishing_once_the_warehouse_is_current(workspace, database, publishing_to):
    workspace.copy("mmz4281/2324/E0.csv")
    assert workspace.pipeline().success  # everything current, nothing published anywhere yet
    publishing_to(database)
    settings = workspace.settings
    resources = {**build_resources(settings), **jackpot_resources(settings),
                 "postgres": PostgresResource(dsn=database.dsn, role_prefix=database.prefix)}

    (sensor,) = workspace.defs().sensors  # with JACKPOT_PG_DSN set: the sensor that may launch publishing jobs
    assert PUBLISH_JOBS <= {job.name for job in sensor.jobs}

    def tick(cursor):
        return sensor(build_sensor_context(instance=workspace.instance, cursor=cursor, resources=resources))

    first = tick(None)
    (request,) = first.run_requests
    assert (request.job_name, request.partition_key) == ("publish_league_season_job", "E0|2324")
    assert {key.to_user_string() for key in request.asset_selection} == LEAGUE_SEASON_ASSETS
    assert request.tags["jackpot/stages"] == "publish_league_season"
    published = workspace.defs().resolve_job_def(request.job_name).execute_in_process(
        instance=workspace.instance, partition_key=request.partition_key, asset_selection=request.asset_selection,
        tags=request.tags)
    assert published.success and database.count("matches") == 380

    second = tick(first.cursor)
    (request,) = second.run_requests
    assert (request.job_name, request.partition_key, request.tags["jackpot/stages"]) == (
        "publish_catalog_job", None, "publish_catalog")
    assert workspace.defs().resolve_job_def(request.job_name).execute_in_process(
        instance=workspace.instance, asset_selection=request.asset_selection, tags=request.tags).success
    assert database.count("teams") == 20
    third = tick(second.cursor)
    assert not third.run_requests and third.skip_reason.skip_message == "everything is current"
