"""Modeling: walk-forward strength snapshots and out-of-sample predictions, the calibration map of each
league-season, and the long table of match predictions (sets A-G plus both market rows).

Each step reads exactly the upstream partitions its input fingerprint names (a league's training window,
every season before the calibrated one), so what it read and what it records cannot disagree. The work
of a batch is spread over the cores (one process per task, results in order).
"""

from functools import partial

from dagster import AllPartitionMapping, AssetDep, AssetExecutionContext, AssetSpec, multi_asset

from jackpot_pipeline.defs.batch import backfill_policy, partition_keys, refuse_chained_batches, report_partitions
from jackpot_pipeline.defs.partitions import league_season_partitions
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
ALL = AllPartitionMapping()


def _with_inputs(step, root: str, task):
    """A partition step called with its partition and the input versions the planner recorded for it."""
    partition, inputs = task
    return step(root, partition, inputs)


@multi_asset(
    name="walk_forward_league_season",
    specs=[
        AssetSpec("team_strength_snapshots", deps=[AssetDep("canonical_matches", partition_mapping=ALL)],
                  group_name=GROUP, code_version=WALK_FORWARD_CODE_VERSION, skippable=True,
                  description="Walk-forward Dixon-Coles strengths, one snapshot per matchday block (calendar week), "
                  "fitted on matches dated strictly before the block."),
        AssetSpec("uncalibrated_predictions", deps=[AssetDep("canonical_matches", partition_mapping=ALL)],
                  group_name=GROUP, code_version=WALK_FORWARD_CODE_VERSION, skippable=True,
                  description="Out-of-sample Dixon-Coles probabilities and de-vigged pre-closing / closing market "
                  "probabilities per match (wide), each with the snapshot it came from."),
    ],
    partitions_def=league_season_partitions,
    backfill_policy=backfill_policy(1),
    can_subset=False,
)
def walk_forward_league_season(context: AssetExecutionContext, warehouse: WarehouseResource):
    refuse_chained_batches(context, "walk_forward")
    keys = partition_keys(context)
    inputs = current_inputs(context.instance, stage_named("walk_forward"), keys)
    done = map_in_processes(partial(_with_inputs, walk_forward_partition, warehouse.root),
                            [(key, inputs[key][1]) for key in keys],
                            stage="walk_forward", partitions=keys)
    yield from report_partitions(context, dict(zip(keys, done, strict=True)), inputs,
                                 dict.fromkeys(("team_strength_snapshots", "uncalibrated_predictions"), WALK_FORWARD_CODE_VERSION))


@multi_asset(
    name="form_features_league_season",
    specs=[
        AssetSpec("team_form_features", deps=[AssetDep("canonical_matches", partition_mapping=ALL)],
                  group_name=GROUP, code_version=FORM_CODE_VERSION, skippable=True,
                  description="Per match and side: the team's last-5 / last-10 points, goals and shots on target for "
                  "and against, home and away splits and rest days, from its matches dated strictly before."),
        AssetSpec("league_baselines", deps=[AssetDep("canonical_matches", partition_mapping=ALL)],
                  group_name=GROUP, code_version=FORM_CODE_VERSION, skippable=True,
                  description="Per match date: the season's draw rate, home- and away-win rates, goals per match and "
                  "home advantage over its matches dated strictly before."),
    ],
    partitions_def=league_season_partitions,
    backfill_policy=backfill_policy(5),
    can_subset=False,
)
def form_features_league_season(context: AssetExecutionContext, warehouse: WarehouseResource):
    refuse_chained_batches(context, "form_features")
    keys = partition_keys(context)
    inputs = current_inputs(context.instance, stage_named("form_features"), keys)
    done = map_in_processes(partial(_with_inputs, form_features_partition, warehouse.root),
                            [(key, inputs[key][1]) for key in keys], stage="form_features", partitions=keys)
    yield from report_partitions(context, dict(zip(keys, done, strict=True)), inputs,
                                 dict.fromkeys(("team_form_features", "league_baselines"), FORM_CODE_VERSION))


def _calibrate(root: str, task):
    partitions, inputs = task
    return calibration_partitions(root, partitions, inputs)


@multi_asset(
    name="calibration_curves",
    specs=[AssetSpec("calibration_curves", deps=[AssetDep("uncalibrated_predictions", partition_mapping=ALL)],
                     group_name=GROUP, code_version=CALIBRATION_CODE_VERSION, skippable=True,
                     description="The calibrator of the Set-B blend and the Set-G stacked pool of a league-season, "
                     "fitted only on out-of-sample predictions of matches dated before the season starts (pooled over "
                     "leagues when the league alone has too few rows; identity, flagged, when there is no history).")],
    partitions_def=league_season_partitions,
    backfill_policy=backfill_policy(2),
    can_subset=False,
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


@multi_asset(
    name="match_predictions",
    specs=[AssetSpec("match_predictions", deps=["uncalibrated_predictions", "calibration_curves"],
                     group_name=GROUP, code_version=MATCH_PREDICTIONS_CODE_VERSION, skippable=True,
                     description="Every predicted match (scheduled fixtures too), one row per set A-G plus the "
                     "de-vigged market_pre and market_close rows. Blends use pre-closing odds; closing odds are a "
                     "benchmark only.")],
    partitions_def=league_season_partitions,
    backfill_policy=backfill_policy(3),
    can_subset=False,
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
