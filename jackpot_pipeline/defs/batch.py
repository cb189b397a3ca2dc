"""Batched runs: one step materialises many partitions, each with its own event, data version and metadata.

Dagster gives every partition of a ranged run the same data version and metadata when a step returns an
output (dagster issues #18649, #34013). So a step that covers several partitions reports one
``AssetMaterialization`` per partition and asset itself, tagged with its own data version, code version
and input fingerprint; its outputs are optional and left unset. A step covering one partition (or an
unpartitioned asset) returns ``MaterializeResult`` as usual, so runs that chain several assets of one
partition work as Dagster expects.

An unset output makes Dagster skip a step that depends on it in the same run, so a ranged run may hold
only one stage (``make run`` and the sensors plan runs that way; the stages' backfill policies differ, so
a backfill never groups a stage with the one it feeds). A ranged run that selects a later stage too is
refused up front with a message rather than half-skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    BackfillPolicy,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    multi_asset,
)

from jackpot_pipeline.defs.sqlite_storage import events_stored_together
from jackpot_pipeline.planning.pipeline import Markdown, stages_after

FINGERPRINT_TAG = "jackpot/input_fingerprint"
DATA_VERSION_TAG = "dagster/data_version"
CODE_VERSION_TAG = "dagster/code_version"
# How many partitions a backfill run of a stage holds: everything in one run on one machine; a few per run
# when Celery workers share the work (the scale-out profile sets 8).
PARTITIONS_PER_RUN_VARIABLE = "JACKPOT_PARTITIONS_PER_RUN"


def backfill_policy(stage_index: int) -> BackfillPolicy:
    """The stage's policy: equal policies would let the backfill daemon group a stage with the one it feeds
    into one run (see the module docstring), so each stage's run size is one more than the previous one's."""
    size = int(os.environ.get(PARTITIONS_PER_RUN_VARIABLE) or 500)
    return BackfillPolicy.multi_run(max_partitions_per_run=size + stage_index)


def partitioned_multi_asset(
    *,
    name: str,
    specs: Sequence[AssetSpec],
    partitions_def: PartitionsDefinition,
    stage_index: int,
    check_specs: Sequence[AssetCheckSpec] | None = None,
):
    """``multi_asset`` of a partitioned stage: the stage's :func:`backfill_policy`, and never subset (a
    step writes all its assets of a partition together). The step itself starts with
    :func:`refuse_chained_batches`."""
    return multi_asset(name=name, specs=specs, check_specs=check_specs, partitions_def=partitions_def,
                       backfill_policy=backfill_policy(stage_index), can_subset=False)


@dataclass
class Materialized:
    """One asset partition's result: its data version and metadata."""

    data_version: str
    metadata: Mapping[str, object] = field(default_factory=dict)


def dagster_metadata(metadata: Mapping[str, object]) -> dict[str, object]:
    """Core metadata to Dagster's: Markdown text to markdown values, the rest as Dagster normalises it."""
    return {key: MetadataValue.md(str(value)) if isinstance(value, Markdown) else value for key, value in metadata.items()}


def partition_keys(context: AssetExecutionContext) -> list[str]:
    return list(context.partition_keys) if context.has_partition_key_range or context.has_partition_key else []


def is_batch(context: AssetExecutionContext) -> bool:
    return len(partition_keys(context)) > 1


def refuse_chained_batches(context: AssetExecutionContext, stage: str) -> None:
    """A ranged run holding this stage and a later one would skip the later one: say so before any work."""
    if not is_batch(context):
        return
    selected = {key.to_user_string() for key in (context.run.asset_selection or ())}
    later = sorted(selected & set(stages_after(stage)))
    if later:
        raise Failure(
            f"this run covers {len(partition_keys(context))} partitions and selects {', '.join(later)} after "
            f"stage {stage}: a run over several partitions may hold one stage only. Launch them as a backfill "
            "(one run per stage) or let make run / the sensors plan the runs."
        )


def materializations(
    context: AssetExecutionContext,
    results: Mapping[str | None, Mapping[str, Materialized]],
    fingerprints: Mapping[str | None, str],
    code_versions: Mapping[str, str],
) -> Iterator[MaterializeResult | AssetMaterialization]:
    """The events of ``results`` ({partition (None: unpartitioned): {asset: Materialized}}); a batch's events
    are stored together (see :func:`~jackpot_pipeline.defs.sqlite_storage.events_stored_together`)."""
    batch = is_batch(context)
    with events_stored_together() if batch else nullcontext():
        yield from _reported(results, fingerprints, code_versions, batch=batch)


def _reported(results, fingerprints, code_versions, *, batch: bool) -> Iterator[MaterializeResult | AssetMaterialization]:
    for partition, assets in results.items():
        tags = {FINGERPRINT_TAG: fingerprints[partition]}
        for asset, result in assets.items():
            metadata = dagster_metadata(result.metadata)
            if not batch:
                yield MaterializeResult(asset_key=asset, data_version=DataVersion(result.data_version),
                                        metadata=metadata, tags=tags)
                continue
            yield AssetMaterialization(
                asset_key=asset, partition=partition, metadata=metadata,
                tags={**tags, DATA_VERSION_TAG: result.data_version, CODE_VERSION_TAG: code_versions[asset]},
            )


def raise_failures(failures: Mapping[str, str], total: int) -> None:
    """After the good partitions were reported: fail the step, naming every partition that failed."""
    if not failures:
        return
    if total == 1:
        raise Failure(next(iter(failures.values())))
    lines = [f"{partition}: {message}" for partition, message in sorted(failures.items())]
    raise Failure(
        f"{len(failures)} of {total} partition(s) failed (the others were stored and reported):\n" + "\n".join(lines),
        metadata={"failed_partitions": MetadataValue.json(sorted(failures))},
    )


def asset_keys(names: Iterable[str]) -> list[AssetKey]:
    return [AssetKey(name) for name in names]


def report_partitions(
    context: AssetExecutionContext,
    done: Mapping[str | None, object],
    inputs: Mapping[str | None, tuple[str, Mapping[str, str | None]]],
    code_versions: Mapping[str, str],
) -> Iterator[MaterializeResult | AssetMaterialization]:
    """Report each partition's stored :class:`~jackpot_pipeline.steps.modeling.PartitionResult` (its recorded
    inputs added to the metadata); a partition whose work raised is named in the step's failure after the
    others are reported."""
    results: dict[str | None, dict[str, Materialized]] = {}
    failures: dict[str, str] = {}
    for partition, outcome in done.items():
        if isinstance(outcome, BaseException):
            failures[partition or "-"] = str(outcome) or type(outcome).__name__
            continue
        recorded = dict(inputs[partition][1])
        results[partition] = {
            asset: Materialized(version, {**outcome.metadata.get(asset, {}), "input_data_versions": recorded})
            for asset, version in outcome.versions.items()
        }
    yield from materializations(context, results, {p: inputs[p][0] for p in results}, code_versions)
    raise_failures(failures, len(done))
