"""The code location's graph against a committed snapshot, so that a change to it shows up in review.

The snapshot (``definitions_snapshot.json`` beside this file) holds, in a stable order and without paths
or times: every asset spec (key, step, deps with their partition mappings, partitions, code version, group,
kinds, metadata and tag keys, owners, automation condition, whether it is skippable and described), each
step's backfill policy, the asset checks, the jobs with the assets or ops they select, the sensors, the
schedules and the resource keys, for the code location with PostgreSQL configured; and, without it, which
assets, checks and jobs remain and what the sensor targets.

After an intended change, regenerate it and commit the new file with the change::

    JACKPOT_UPDATE_SNAPSHOT=1 python -m pytest jackpot_pipeline_tests/defs/test_definitions_snapshot.py
    # or: python -m jackpot_pipeline_tests.defs.test_definitions_snapshot
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from unittest import mock

from dagster import AssetsDefinition, Definitions, JobDefinition

from jackpot_pipeline.definitions import build_definitions
from jackpot_pipeline.defs.batch import backfill_policy
from jackpot_pipeline.publish.instance import DSN_VARIABLE

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")
UPDATE_VARIABLE = "JACKPOT_UPDATE_SNAPSHOT"
REGENERATE = f"{UPDATE_VARIABLE}=1 python -m pytest jackpot_pipeline_tests/defs/test_definitions_snapshot.py"


def _definitions(publishing: bool) -> Definitions:
    environ = {DSN_VARIABLE: "host=snapshot"} if publishing else {}
    with mock.patch.dict(os.environ, environ):
        if not publishing:
            os.environ.pop(DSN_VARIABLE, None)
        return build_definitions()


def _partitions(partitions_def) -> str | None:
    if partitions_def is None:
        return None
    name = getattr(partitions_def, "name", None)
    return f"{type(partitions_def).__name__}({name})" if name else type(partitions_def).__name__


def _backfill(policy) -> str | None:
    """The policy's run size relative to stage 0's, which ``JACKPOT_PARTITIONS_PER_RUN`` sets."""
    if policy is None:
        return None
    if policy.max_partitions_per_run is None:
        return f"{policy.policy_type.value}"
    offset = policy.max_partitions_per_run - backfill_policy(0).max_partitions_per_run
    return f"{policy.policy_type.value}(partitions per run: stage 0 + {offset})"


def _spec(spec, graph) -> dict[str, object]:
    """One asset; its deps and their partition mappings as the resolved graph applies them (a multi-asset's
    specs may name a mapping on one spec only; Dagster keeps one mapping per upstream asset and step)."""
    mappings = graph.get(spec.key).partition_mappings
    return {
        "deps": {parent.to_user_string(): type(mappings[parent]).__name__ if parent in mappings else None
                 for parent in sorted(graph.get(spec.key).parent_keys, key=lambda key: key.to_user_string())},
        "partitions": _partitions(spec.partitions_def),
        "code_version": spec.code_version,
        "group": spec.group_name,
        "kinds": sorted(spec.kinds),
        "metadata_keys": sorted(spec.metadata),
        "tag_keys": sorted(spec.tags),
        "skippable": spec.skippable,
        "owners": sorted(spec.owners),
        "automation_condition": type(spec.automation_condition).__name__ if spec.automation_condition else None,
        "has_description": bool(spec.description),
    }


def _step(assets_def: AssetsDefinition, graph) -> dict[str, object]:
    return {
        "assets": {spec.key.to_user_string(): _spec(spec, graph)
                   for spec in sorted(assets_def.specs, key=lambda spec: spec.key.to_user_string())},
        "checks": {f"{check.asset_key.to_user_string()}:{check.name}": {"blocking": check.blocking,
                                                                        "has_description": bool(check.description)}
                   for check in sorted(assets_def.check_specs, key=lambda check: (check.asset_key.to_user_string(),
                                                                                   check.name))},
        "partitions": _partitions(assets_def.partitions_def),
        "backfill_policy": _backfill(assets_def.backfill_policy),
        "can_subset": assets_def.can_subset,
    }


def _job(job, graph) -> dict[str, object]:
    if isinstance(job, JobDefinition):
        return {"ops": sorted(node.name for node in job.graph.nodes)}
    return {"assets": sorted(key.to_user_string() for key in job.selection.resolve(graph))}


def render(defs: Definitions) -> dict[str, object]:
    """The graph of ``defs`` as plain, ordered JSON values."""
    graph = defs.resolve_asset_graph()
    return {
        "steps": {assets_def.node_def.name: _step(assets_def, graph)
                  for assets_def in sorted(defs.assets or (), key=lambda a: a.node_def.name)},
        "jobs": {job.name: _job(job, graph) for job in sorted(defs.jobs or (), key=lambda job: job.name)},
        "sensors": {sensor.name: {"jobs": sorted(target.job_name for target in sensor.targets),
                                  "minimum_interval_seconds": sensor.minimum_interval_seconds,
                                  "default_status": sensor.default_status.value,
                                  "resources": sorted(sensor.required_resource_keys)}
                    for sensor in sorted(defs.sensors or (), key=lambda sensor: sensor.name)},
        "schedules": {schedule.name: {"job": schedule.job_name, "cron": schedule.cron_schedule,
                                      "timezone": schedule.execution_timezone,
                                      "default_status": schedule.default_status.value}
                      for schedule in sorted(defs.schedules or (), key=lambda schedule: schedule.name)},
        "resources": {key: type(resource).__name__ for key, resource in sorted((defs.resources or {}).items())},
        "executor": defs.executor.name if defs.executor else None,
    }


def _outline(defs: Definitions) -> dict[str, object]:
    graph = defs.resolve_asset_graph()
    return {
        "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
        "checks": sorted(f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys),
        "jobs": sorted(job.name for job in defs.jobs or ()),
        "sensor_jobs": {sensor.name: sorted(target.job_name for target in sensor.targets) for sensor in defs.sensors or ()},
    }


def snapshot_text() -> str:
    document = {"with_postgres": render(_definitions(publishing=True)),
                "without_postgres": _outline(_definitions(publishing=False))}
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def test_the_definitions_match_the_committed_snapshot():
    current = snapshot_text()
    if os.environ.get(UPDATE_VARIABLE):
        SNAPSHOT.write_text(current)
    committed = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    if current != committed:
        diff = "".join(difflib.unified_diff(committed.splitlines(True), current.splitlines(True),
                                            "committed snapshot", "current definitions", n=2))
        raise AssertionError(f"The code location's graph differs from {SNAPSHOT.name}. If the change is intended, "
                             f"regenerate the snapshot ({REGENERATE}) and commit it with the change.\n{diff}")


if __name__ == "__main__":
    SNAPSHOT.write_text(snapshot_text())
    print(f"wrote {SNAPSHOT}")
