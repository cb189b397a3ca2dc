"""The Dagster shell: resources with and without JACKPOT_PG_DSN, the code location with the publishing
assets, and ``publish_changed`` (what ``make run`` calls after ingestion)."""

import ast
from pathlib import Path

import pytest
from dagster import AssetKey, Definitions, EnvVar, materialize

from jackpot_pipeline.definitions import build_definitions
from jackpot_pipeline.defs.publish import (
    PostgresResource,
    publish_assets,
    publish_changed,
    publish_jobs,
    publish_resources,
    published_leagues,
)
from jackpot_pipeline.defs.publish.assets import FOLLOW_UPSTREAM, published_ingestion_logs, published_matches
from jackpot_pipeline.settings import Settings
from jackpot_pipeline_tests.publish.conftest import publishing_definitions

PUBLISH_LIBRARY = Path(__file__).resolve().parents[2] / "jackpot_pipeline" / "publish"


def test_the_publish_library_never_imports_dagster():
    offenders = []
    for path in PUBLISH_LIBRARY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0].startswith("dagster")]
    assert offenders == []


def test_resources_follow_the_dsn_setting():
    enabled = publish_resources(environ={"JACKPOT_PG_DSN": "host=db", "JACKPOT_PG_ROLE_PREFIX": "staging_"})["postgres"]
    assert enabled.dsn == EnvVar("JACKPOT_PG_DSN") and enabled.roles.writer == "staging_jackpot_writer"
    disabled = publish_resources(environ={})["postgres"]
    assert disabled.dsn == "" and disabled.roles.analyst == "jackpot_analyst"


def test_without_a_dsn_publishing_refuses_with_the_reason():
    result = materialize([published_leagues], resources={"postgres": PostgresResource(dsn="")}, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    assert "JACKPOT_PG_DSN is not set" in error.message


def test_the_code_location_loads_with_the_publishing_assets(tmp_path, shared_data):
    settings = Settings(base_url=shared_data.as_uri(), leagues=("E0",), seasons_spec="2324", data_dir=tmp_path)
    defs = Definitions.merge(
        build_definitions(settings), Definitions(assets=publish_assets, jobs=publish_jobs, resources=publish_resources(settings, {}))
    )
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey("published_matches")).parent_keys == {AssetKey("canonical_matches")}
    assert graph.get(AssetKey("published_ingestion_logs")).parent_keys == {AssetKey("ingestion_log"), AssetKey("published_matches")}
    assert graph.get(AssetKey("published_teams")).parent_keys == {AssetKey("teams")}
    assert published_matches.partitions_def == graph.get(AssetKey("canonical_matches")).partitions_def
    assert {published_matches.op.pool, published_ingestion_logs.op.pool} == {"duckdb"}


@pytest.mark.postgres
def test_publish_changed_publishes_what_postgres_lacks(workspace, database, monkeypatch):
    monkeypatch.setenv("JACKPOT_PG_ROLE_PREFIX", database.prefix)
    workspace.copy("mmz4281/2324/E0.csv")
    assert workspace.ingest("E0", "2324").success
    assert workspace.defs().resolve_job_def("teams_job").execute_in_process(instance=workspace.instance).success
    defs = publishing_definitions(workspace.settings, database)
    lines = []

    first = publish_changed(defs, workspace.settings, workspace.instance, dsn=database.dsn, log=lines.append)
    assert (first.published, first.failed, first.catalog) == (["E0|2324"], {}, True)
    assert database.count("matches") == 380 and database.count("teams") == 20
    second = publish_changed(defs, workspace.settings, workspace.instance, dsn=database.dsn, log=lines.append)
    assert (second.published, second.unchanged, second.catalog) == ([], 1, False)
    assert lines[-1] == "publish: 1 partition(s) in DuckDB, 0 to publish to PostgreSQL"


def test_publishing_follows_upstream_materialisations():
    for asset in publish_assets:
        assert asset.automation_conditions_by_key[asset.key] == FOLLOW_UPSTREAM
