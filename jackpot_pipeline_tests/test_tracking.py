"""MLflow tracking: an experiment run records parameters, metrics and the reliability plot; registry
promotions appear in MLflow's model registry."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from jackpot_pipeline import tracking
from jackpot_pipeline.experiments import comparison_markdown, run_grid
from jackpot_pipeline.model import validation as v
from jackpot_pipeline.model.walk_forward import BASELINE_WALK_FORWARD, DEFAULT_WALK_FORWARD
from jackpot_pipeline.warehouse.store import Warehouse
from jackpot_pipeline_tests.validation.real_predictions import canonical_matches
from jackpot_pipeline_tests.validation.test_validation import NOW, _version

SEASONS = ("2122", "2223", "2324")


def test_tracking_store_is_sqlite_under_data_or_postgres_from_the_dsn(tmp_path):
    assert tracking.tracking_uri(tmp_path, {}) == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    assert tracking.tracking_uri(tmp_path, {"JACKPOT_PG_DSN": "host=127.0.0.1 port=5432 user=postgres dbname=test"}) == \
        "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    assert tracking.tracking_uri(tmp_path, {"JACKPOT_PG_DSN": "postgresql://u:p@db:5433/x"}) == "postgresql+psycopg2://u:p@db:5433/x"
    assert not tracking.enabled({"JACKPOT_MLFLOW": "off"}) and tracking.enabled({})


def test_an_experiment_grid_records_each_configuration_as_a_run(tmp_path, shared_data):
    store = Warehouse(tmp_path / "warehouse")
    for league in ("E0", "E1"):
        matches = canonical_matches(shared_data, league, SEASONS)
        for season, frame in matches.groupby("season"):
            store.write("canonical_matches", frame.reset_index(drop=True), f"{league}|{season}")
    grid = {"baseline": BASELINE_WALK_FORWARD, "default": DEFAULT_WALK_FORWARD}
    rows = run_grid(store, grid, ["E0"], ["2324"], data_dir=tmp_path)

    table = comparison_markdown(rows)
    assert "| baseline |" in table and "| default |" in table
    assert [row["n"] for row in rows] == [280, 280]  # 2023/24 after its first 100 matches
    assert rows[0]["A-A0"] == pytest.approx(0.0, abs=1e-15)  # the baseline is A0 itself
    assert rows[1]["A-A0"] < 0
    client = MlflowClient(tracking_uri=tracking.tracking_uri(tmp_path))
    experiment = client.get_experiment_by_name("experiments")
    runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"baseline", "default"}
    run = runs["default"]
    assert run.info.run_id == rows[1]["mlflow_run_id"]
    assert run.data.params["shots_on_target_weight"] == "0.3"
    assert run.data.params["dixon_coles.xi"] == "0.004" and run.data.params["carry_over_prior"] == "1.0"
    assert run.data.params["promoted_from_lower_division"] == "True"
    assert run.data.tags["model_version"] == DEFAULT_WALK_FORWARD.fingerprint()
    assert "dagster_run_id" in run.data.tags
    metrics = run.data.metrics
    assert metrics["rps/A/pooled"] == pytest.approx(rows[1]["rps_A"])
    assert metrics["rps/A/E0_2324"] == pytest.approx(rows[1]["rps_A"])  # one league-season: pooled = it
    assert metrics["n/A/pooled"] == 280
    assert 0.15 < metrics["rps/market_pre/pooled"] < 0.25
    assert {"rps/A0/pooled", "rps/G/pooled", "rps_diff_market_pre/G/pooled", "log_loss/A/E0_2324"} <= set(metrics)
    artifacts = [item.path for item in client.list_artifacts(run.info.run_id)]
    assert artifacts == ["reliability.png"]
    local = client.download_artifacts(run.info.run_id, "reliability.png", str(tmp_path))
    with open(local, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_registry_promotions_appear_in_the_mlflow_registry(tmp_path):
    uri = tracking.tracking_uri(tmp_path)
    first, _ = v.register_candidates(None, [_version(rps={"2223": 0.2050})], recorded_at=NOW, run_id="r1")
    assert tracking.mirror_promotions(first, uri=uri) == [first["model_version"].iloc[0]]
    better = _version(rps={"2223": 0.2040}, data="d2")
    second, _ = v.register_candidates(first, [better], recorded_at=NOW + dt.timedelta(days=7), run_id="r2")
    assert tracking.mirror_promotions(second, uri=uri) == [better.model_version]
    # mirroring the same rows again adds nothing
    assert tracking.mirror_promotions(pd.concat([first, second]), uri=uri) == []

    versions = tracking.registered_versions("E0", uri=uri)
    assert versions[first["model_version"].iloc[0]] == "1" and versions[better.model_version] == "2"
    assert versions["@active"] == "2"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    archived = client.get_model_version("jackpot-E0", "1")
    assert archived.tags["status"] == "archived" and archived.tags["dagster_run_id"] == "r1"
    assert client.get_model_version("jackpot-E0", "2").tags["status"] == "active"
