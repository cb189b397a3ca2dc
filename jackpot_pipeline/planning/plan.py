"""Which partitions of which stages are stale, and the runs that bring them up to date.

Both ``make run`` and the sensors call :func:`plan` and :func:`next_runs` with the state they read from
the Dagster instance; ``make run`` executes the runs in-process, the sensor hands them to the daemon.

A partition is *stale* when its recorded fingerprint differs from the fingerprint of what it would read
now, or when something it reads is itself stale (it will change once that is recomputed). A stale
partition that was already tried with the same fingerprint (its run failed) is *failed* and left alone
until its inputs change, and it does not make anything downstream stale: downstream keeps reading the
version that is stored. Runs go stage by stage, the earliest stage with work first; a stage's partitions
run in as few runs as their key order allows (a run covers a contiguous range of keys).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jackpot_pipeline.planning.stages import PipelineState, Scope, Stage

Attempts = Mapping[tuple[str, str | None], str]  # (stage, partition) -> fingerprint of the attempt


@dataclass(frozen=True)
class PartitionWork:
    stage: str
    partition: str | None
    fingerprint: str
    runnable: bool  # nothing it reads is still pending


@dataclass(frozen=True)
class Plan:
    pending: tuple[PartitionWork, ...]
    failed: tuple[PartitionWork, ...]

    @property
    def is_empty(self) -> bool:
        return not self.pending

    def pending_in(self, stage: str) -> list[PartitionWork]:
        return [work for work in self.pending if work.stage == stage]

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for work in self.pending:
            counted[work.stage] = counted.get(work.stage, 0) + 1
        return counted


@dataclass(frozen=True)
class RunPlan:
    """One run: the stages' assets over ``partitions`` (a single key, or the contiguous range
    ``first..last`` in Dagster's key order), or over nothing for unpartitioned stages."""

    stages: tuple[str, ...]
    scope: Scope
    partitions: tuple[str, ...]
    fingerprints: Mapping[tuple[str, str | None], str]

    @property
    def first(self) -> str | None:
        return self.partitions[0] if self.partitions else None

    @property
    def last(self) -> str | None:
        return self.partitions[-1] if self.partitions else None

    @property
    def run_key(self) -> str:
        """Equal for the same work on the same inputs: the daemon never launches it twice."""
        payload = json.dumps(sorted((s, p or "", f) for (s, p), f in self.fingerprints.items()))
        return f"{'+'.join(self.stages)}:{hashlib.sha256(payload.encode()).hexdigest()[:24]}"

    def label(self) -> str:
        where = "" if not self.partitions else (
            f" {self.first}" if len(self.partitions) == 1 else f" {self.first}..{self.last} ({len(self.partitions)})"
        )
        return f"{'+'.join(self.stages)}{where}"


def partitions_of(stage: Stage, state: PipelineState) -> list[str | None]:
    if stage.scope == "league_season":
        return [p for p in state.league_seasons if state.configured is None or p in state.configured]
    if stage.scope == "jackpot":
        return list(state.jackpots)
    return [None]


def plan(stages: Sequence[Stage], state: PipelineState, attempted: Attempts | None = None) -> Plan:
    """Stale partitions of every stage, in stage order (``stages`` must be topologically ordered)."""
    attempted = attempted or {}
    changing: set[str] = set()  # input keys that pending work will rewrite
    pending: list[PartitionWork] = []
    failed: list[PartitionWork] = []
    for stage in stages:
        waits_for = set(stage.after)
        blocked_by_after = any(key.split("[", 1)[0] in waits_for for key in changing)
        for partition in partitions_of(stage, state):
            inputs = stage.inputs(partition, state)
            fingerprint = stage.fingerprint(inputs)
            upstream_pending = any(key in changing for key in inputs)
            recorded = state.fingerprints.get(stage.name, {}).get(partition)
            if recorded == fingerprint and not upstream_pending:
                continue
            work = PartitionWork(stage.name, partition, fingerprint, not (upstream_pending or blocked_by_after))
            if work.runnable and attempted.get((stage.name, partition)) == fingerprint:
                failed.append(work)
                continue
            pending.append(work)
            changing.update(f"{asset}[{partition}]" if partition is not None else asset for asset in stage.assets)
    return Plan(tuple(pending), tuple(failed))


def next_runs(
    stages: Sequence[Stage],
    current: Plan,
    state: PipelineState,
    partition_order: Mapping[Scope, Sequence[str]],
    *,
    max_runs_per_stage: int = 4,
) -> list[RunPlan]:
    """The runs to launch now: the earliest stage with runnable work, in contiguous key ranges.

    When all pending league × season work concerns a single partition, one run covers every stage of it
    (a chain: ingest to validation), which is what a sensor sees when one file changes. Unpartitioned
    stages never depend on each other here and run together. ``partition_order``: per scope, every key of
    the Dagster partitions definition in its order (including keys the state does not configure, which a
    range must not cross).
    """
    by_name = {stage.name: stage for stage in stages}
    runnable = [work for work in current.pending if work.runnable]
    if not runnable:
        return []
    first_group = by_name[runnable[0].stage].group
    league_season_work = [w for w in current.pending if by_name[w.stage].scope == "league_season"
                          and by_name[w.stage].group == first_group]
    if league_season_work and len({w.partition for w in league_season_work}) == 1 and \
            by_name[runnable[0].stage].scope == "league_season":
        return [RunPlan(tuple(w.stage for w in league_season_work), "league_season",
                        (league_season_work[0].partition,),  # type: ignore[arg-type]
                        {(w.stage, w.partition): w.fingerprint for w in league_season_work})]
    first = by_name[runnable[0].stage]
    if first.scope == "global":
        works = [w for w in runnable if by_name[w.stage].scope == "global"]
        return [RunPlan(tuple(dict.fromkeys(w.stage for w in works)), "global", (),
                        {(w.stage, None): w.fingerprint for w in works})]
    works = [w for w in runnable if w.stage == first.name]
    order = list(partition_order.get(first.scope, ()))
    configured = {p for p in partitions_of(first, state) if p is not None}
    runs = []
    for keys in _ranges(order, {w.partition for w in works}, configured, max_runs_per_stage):  # type: ignore[misc]
        fingerprints = {(w.stage, w.partition): w.fingerprint for w in works if w.partition in keys}
        runs.append(RunPlan((first.name,), first.scope, tuple(keys), fingerprints))
    return runs


def _ranges(order: Sequence[str], wanted: set[str], mergeable: set[str], max_ranges: int) -> list[list[str]]:
    """Contiguous runs of ``wanted`` keys in ``order``; while there are more than ``max_ranges``, the two
    closest runs are merged when every key between them is ``mergeable`` (recomputing a current partition
    gives the same result, so a few extra keys cost less than another run)."""
    positions = [i for i, key in enumerate(order) if key in wanted]
    missing = wanted - set(order)
    if missing:
        raise ValueError(f"partition(s) {', '.join(sorted(missing))} are not partition keys of the instance yet")
    groups: list[list[int]] = []
    for position in positions:
        if groups and position == groups[-1][-1] + 1:
            groups[-1].append(position)
        else:
            groups.append([position])
    while len(groups) > max_ranges:
        gaps = [
            (groups[i + 1][0] - groups[i][-1], i) for i in range(len(groups) - 1)
            if all(order[k] in mergeable for k in range(groups[i][-1] + 1, groups[i + 1][0]))
        ]
        if not gaps:
            break
        _, i = min(gaps)
        groups[i] = list(range(groups[i][0], groups[i + 1][-1] + 1))
        del groups[i + 1]
    return [[order[i] for i in group] for group in groups]
