"""Experiment tracking in MLflow: every walk-forward configuration evaluated is a run, and the model
registry's promotions are mirrored in MLflow's model registry.

The tracking store is a SQLite file under the data directory (``data/mlflow/mlflow.db``), or the PostgreSQL
database of ``JACKPOT_PG_DSN`` when it is set; no server is needed (``mlflow ui --backend-store-uri <uri>``
shows the runs). Artefacts (the reliability diagrams) live under ``data/mlflow/artifacts`` either way.

A run holds: the configuration's parameters (flattened), per league-season and pooled metrics of every
probability set (``rps/<set>/<league>_<season>``, ``rps/<set>/pooled`` ...), the reliability plot as an
artefact, and tags with the Dagster run id and the ``model_version``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from jackpot_pipeline.settings import load_settings

DEFAULT_EXPERIMENT = "walk_forward"
REGISTERED_MODEL_PREFIX = "jackpot"
METRICS = ("rps", "log_loss", "brier", "ece")
_PAIRED = ("rps_diff_market_pre", "rps_diff_market_pre_se")


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the pipeline records its evaluations and promotions (``JACKPOT_MLFLOW=off`` turns it off)."""
    env = os.environ if environ is None else environ
    return (env.get("JACKPOT_MLFLOW") or "on").strip().lower() not in ("off", "0", "false", "no")


def tracking_directory(data_dir: Path | None = None) -> Path:
    return (data_dir or load_settings().data_dir) / "mlflow"


def tracking_uri(data_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> str:
    """PostgreSQL at ``JACKPOT_PG_DSN`` when set, else SQLite under the data directory."""
    env = os.environ if environ is None else environ
    dsn = (env.get("JACKPOT_PG_DSN") or "").strip()
    if dsn:
        if "://" in dsn:
            return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg2://", dsn)
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
        user = parts.get("user", "postgres") + (f":{parts['password']}" if parts.get("password") else "")
        return (f"postgresql+psycopg2://{user}@{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}/"
                f"{parts.get('dbname', 'postgres')}")
    directory = tracking_directory(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'mlflow.db'}"


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment_id(client, name: str, artifact_root: Path) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    artifact_root.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(name, artifact_location=(artifact_root / name).as_uri())


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as MLflow parameters: ``dixon_coles.xi`` -> ``0.003``."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)
    return out


def metric_values(by_league_season: pd.DataFrame, pooled: pd.DataFrame) -> dict[str, float]:
    """MLflow metrics from :func:`~jackpot_pipeline.model.validation.evaluate_by` rows (league, season, set_id,
    metrics) and :func:`~jackpot_pipeline.model.validation.evaluate_sets` rows (pooled)."""
    values: dict[str, float] = {}

    def add(name: str, value: object) -> None:
        if value is not None and not pd.isna(value) and math.isfinite(float(value)):
            values[name] = float(value)

    for row in by_league_season.to_dict("records"):
        for metric in (*METRICS, *_PAIRED):
            if metric in row:
                add(f"{metric}/{row['set_id']}/{row['league']}_{row['season']}", row[metric])
    for row in pooled.to_dict("records"):
        for metric in (*METRICS, *_PAIRED, "rps_se"):
            if metric in row:
                add(f"{metric}/{row['set_id']}/pooled", row[metric])
        add(f"n/{row['set_id']}/pooled", row["n"])
    return values


def record_experiment(
    name: str,
    params: Mapping[str, Any],
    by_league_season: pd.DataFrame,
    pooled: pd.DataFrame,
    reliability_png: bytes | None,
    *,
    dagster_run_id: str | None = None,
    model_version: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    uri: str | None = None,
    data_dir: Path | None = None,
) -> str:
    """One MLflow run for one evaluated configuration; returns its run id."""
    uri = uri or tracking_uri(data_dir)
    client = _client(uri)
    experiment_id = _experiment_id(client, experiment, tracking_directory(data_dir) / "artifacts")
    tags = {"mlflow.runName": name, "dagster_run_id": dagster_run_id or "none", "model_version": model_version or "none"}
    run = client.create_run(experiment_id, tags=tags, run_name=name)
    run_id = run.info.run_id
    from mlflow.entities import Metric, Param

    flat = flatten(params)
    metrics = metric_values(by_league_season, pooled)
    client.log_batch(run_id, params=[Param(k, v[:6000]) for k, v in sorted(flat.items())],
                     metrics=[Metric(k, v, 0, 0) for k, v in sorted(metrics.items())])
    if reliability_png is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "reliability.png"
            path.write_bytes(reliability_png)
            client.log_artifact(run_id, str(path))
    client.set_terminated(run_id)
    return run_id


def mirror_promotions(registry_rows: pd.DataFrame, *, uri: str | None = None, data_dir: Path | None = None) -> list[str]:
    """Each version the model registry made ``active`` becomes a version of the MLflow registered model
    ``jackpot-<league>`` (tagged with its ``model_version``, aliased ``active``); returns the mirrored versions.
    A version already mirrored is left alone, so mirroring the same rows twice adds nothing."""
    if registry_rows is None or registry_rows.empty:
        return []
    promoted = registry_rows[registry_rows["status"] == "active"]
    client = _client(uri or tracking_uri(data_dir))
    for row in registry_rows[registry_rows["status"] != "active"].to_dict("records"):
        # a superseded version keeps its MLflow version, tagged with its new status
        model = f"{REGISTERED_MODEL_PREFIX}-{row['league']}"
        if client.search_registered_models(filter_string=f"name = '{model}'"):
            for known in client.search_model_versions(f"name = '{model}' and tag.model_version = '{row['model_version']}'"):
                client.set_model_version_tag(model, known.version, "status", str(row["status"]))
    mirrored = []
    for row in promoted.to_dict("records"):
        model = f"{REGISTERED_MODEL_PREFIX}-{row['league']}"
        version_id = str(row["model_version"])
        if client.search_registered_models(filter_string=f"name = '{model}'"):
            known = client.search_model_versions(f"name = '{model}' and tag.model_version = '{version_id}'")
            if known:
                continue
        else:
            client.create_registered_model(model, description=f"Walk-forward Dixon-Coles model of {row['league']}")
        created = client.create_model_version(
            model, source=f"models-registry://{row['league']}/{version_id}",
            tags={"model_version": version_id, "status": "active", "reason": str(row.get("reason") or ""),
                  "dagster_run_id": str(row.get("run_id") or "none")},
            description=str(row.get("reason") or ""),
        )
        client.set_registered_model_alias(model, "active", created.version)
        mirrored.append(version_id)
    return mirrored


def registered_versions(league: str, *, uri: str | None = None, data_dir: Path | None = None) -> dict[str, str]:
    """{model_version tag: MLflow version} of ``jackpot-<league>``, and the alias ``active`` as key ``@active``."""
    client = _client(uri or tracking_uri(data_dir))
    model = f"{REGISTERED_MODEL_PREFIX}-{league}"
    if not client.search_registered_models(filter_string=f"name = '{model}'"):
        return {}
    found = {v.tags.get("model_version"): str(v.version) for v in client.search_model_versions(f"name = '{model}'")}
    alias = client.get_registered_model(model).aliases.get("active")
    if alias is not None:
        found["@active"] = str(alias)
    return found
