"""Modeling: walk-forward strength snapshots and out-of-sample predictions, the calibration map of each
league-season, and the long table of match predictions (sets A-G plus both market rows).

Each step reads exactly the upstream partitions its input fingerprint names (a league's training window,
every season before the calibrated one), so what it read and what it records cannot disagree. The work
of a batch is spread over the cores (one process per task, results in order).
"""

from functools import partial

from dagster import AssetExecutionContext, AssetSpec

from jackpot_pipeline.defs.batch import partition_keys, partitioned_multi_asset, refuse_chained_batches, report_partitions
from jackpot_pipeline.defs.partitions import every_partition_of, league_season_partitions
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.defs.state import current_inputs
from jackpot_pipeline.model.form import FORM_CODE_VERSION
from jackpot_pipeline.model.walk_forward import WALK_FORWARD_CODE_VERSION
from jackpot_pipeline.planning.pipeline import CALIBRATION_CODE_VERSION, MATCH_PREDICTIONS_CODE_VERSION, stage_named
from jackpot_pipeline.steps.modeling import (
    calibration_groups,
    calibration_partitions,
    form_features_partition,
    match_predictions_partition,
    walk_forward_partition,
)
from jackpot_pipeline.steps.parallel import map_in_processes, worker_count

GROUP = "modeling"
EVERY_CANONICAL_PARTITION = [every_partition_of("canonical_matches")]
_DESCRIPTIONS = {
    "team_strength_snapshots": "Walk-forward Dixon-Coles strengths, one snapshot per matchday block (calendar week), "
    "fitted on matches dated strictly before the block.",
    "uncalibrated_predictions": "Out-of-sample Dixon-Coles probabilities and de-vigged pre-closing / closing market "
    "probabilities per match (wide), each with the snapshot it came from.",
    "team_form_features": "Per match and side: the team's last-5 / last-10 points, goals and shots on target for "
    "and against, home and away splits and rest days, from its matches dated strictly before.",
    "league_baselines": "Per match date: the season's draw rate, home- and away-win rates, goals per match and "
    "home advantage over its matches dated strictly before.",
    "calibration_curves": "The calibrator of the Set-B blend and the Set-G stacked pool of a league-season, "
    "fitted only on out-of-sample predictions of matches dated before the season starts (pooled over "
    "leagues when the league alone has too few rows; identity, flagged, when there is no history).",
    "match_predictions": "Every predicted match (scheduled fixtures too), one row per set A-G plus the "
    "de-vigged market_pre and market_close rows. Blends use pre-closing odds; closing odds are a "
    "benchmark only.",
}


def _spec(name: str, code_version: str, deps: list) -> AssetSpec:
    return AssetSpec(name, deps=deps, group_name=GROUP, code_version=code_version, skippable=True,
                     description=_DESCRIPTIONS[name])


def _with_inputs(step, root: str, task):
    """A partition step called with its partition and the input versions the planner recorded for it."""
    partition, inputs = task
    return step(root, partition, inputs)


def _per_partition_stage(name: str, stage: str, stage_index: int, step, code_version: str, assets: tuple[str, ...]):
    """The step of a stage whose assets each partition computes from every canonical partition of its
    league (``step(root, partition, inputs)`` per partition, in processes), reported per partition."""

    @partitioned_multi_asset(
        name=name,
        specs=[_spec(asset, code_version, EVERY_CANONICAL_PARTITION) for asset in assets],
        partitions_def=league_season_partitions,
        stage_index=stage_index,
    )
    def run_stage(context: AssetExecutionContext, warehouse: WarehouseResource):
        refuse_chained_batches(context, stage)
        keys = partition_keys(context)
        inputs = current_inputs(context.instance, stage_named(stage), keys)
        done = map_in_processes(partial(_with_inputs, step, warehouse.root), [(key, inputs[key][1]) for key in keys],
                                stage=stage, partitions=keys)
        yield from report_partitions(context, dict(zip(keys, done, strict=True)), inputs,
                                     dict.fromkeys(assets, code_version))

    return run_stage


walk_forward_league_season = _per_partition_stage(
    "walk_forward_league_season", "walk_forward", 1, walk_forward_partition, WALK_FORWARD_CODE_VERSION,
    ("team_strength_snapshots", "uncalibrated_predictions"))
form_features_league_season = _per_partition_stage(
    "form_features_league_season", "form_features", 5, form_features_partition, FORM_CODE_VERSION,
    ("team_form_features", "league_baselines"))


def _calibrate(root: str, task):
    partitions, inputs = task
    return calibration_partitions(root, partitions, inputs)


@partitioned_multi_asset(
    name="calibration_curves", partitions_def=league_season_partitions, stage_index=2,
    specs=[_spec("calibration_curves", CALIBRATION_CODE_VERSION, [every_partition_of("uncalibrated_predictions")])],
)
def calibration_curves(context: AssetExecutionContext, warehouse: WarehouseResource):
    refuse_chained_batches(context, "calibration")
    keys = partition_keys(context)
    inputs = current_inputs(context.instance, stage_named("calibration"), keys)
    tasks = [(group, {k: v for key in group for k, v in inputs[key][1].items()})
             for group in calibration_groups(keys, worker_count(len(keys)))]
    done = {}
    outcomes = map_in_processes(partial(_calibrate, warehouse.root), tasks, min_tasks=2, stage="calibration",
                                partitions=[group for group, _ in tasks])
    for outcome, (group, _) in zip(outcomes, tasks, strict=True):
        done.update(outcome if isinstance(outcome, dict) else dict.fromkeys(group, outcome))
    yield from report_partitions(context, {key: done[key] for key in keys}, inputs,
                                 {"calibration_curves": CALIBRATION_CODE_VERSION})


@partitioned_multi_asset(
    name="match_predictions", partitions_def=league_season_partitions, stage_index=3,
    specs=[_spec("match_predictions", MATCH_PREDICTIONS_CODE_VERSION, ["uncalibrated_predictions", "calibration_curves"])],
)
def match_predictions(context: AssetExecutionContext, warehouse: WarehouseResource):
    refuse_chained_batches(context, "match_predictions")
    keys = partition_keys(context)
    inputs = current_inputs(context.instance, stage_named("match_predictions"), keys)
    done = map_in_processes(partial(match_predictions_partition, warehouse.root), keys, stage="match_predictions",
                            partitions=keys)
    yield from report_partitions(context, dict(zip(keys, done, strict=True)), inputs,
                                 {"match_predictions": MATCH_PREDICTIONS_CODE_VERSION})


modeling_assets = [walk_forward_league_season, form_features_league_season, calibration_curves, match_predictions]
