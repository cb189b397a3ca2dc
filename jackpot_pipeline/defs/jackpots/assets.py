"""Jackpot assets, one partition per card (its ``jackpot_id``).

``jackpot_predictions`` finalises a card once (sets A-G per fixture from the stored strength snapshots and
calibration maps); ``jackpot_exports`` and ``jackpot_validation`` are derived from the finalised rows
whenever results arrive. The rules live in :mod:`jackpot_pipeline.jackpots.finalise` and
:mod:`jackpot_pipeline.jackpots.outputs`.
"""

import dataclasses
import datetime as dt

from dagster import AssetExecutionContext, AssetSpec, Config

from jackpot_pipeline.defs.batch import (Materialized, materializations, partition_keys, partitioned_multi_asset,
                                         raise_failures, refuse_chained_batches)
from jackpot_pipeline.defs.jackpots.resources import JackpotFilesResource
from jackpot_pipeline.defs.partitions import every_partition_of, jackpot_partitions
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.defs.state import current_inputs
from jackpot_pipeline.jackpots.cards import CardError
from jackpot_pipeline.jackpots.finalise import FinalisedJackpotError, finalise_card
from jackpot_pipeline.jackpots.outputs import export_jackpot, score_jackpot
from jackpot_pipeline.jackpots.tickets import TicketBudget
from jackpot_pipeline.planning.pipeline import DEFAULT_TICKET_BUDGET, JACKPOT_CODE_VERSION, stage_named
from jackpot_pipeline.sources.fetch import sha256_file

GROUP = "jackpots"
_REFUSALS = (CardError, FinalisedJackpotError, LookupError)


class TicketBudgetConfig(Config):
    """Budget of the optimised ticket in the exports (None = no limit on that count). Default: 3 doubles and
    1 triple, at most 2^3 x 3 = 24 lines, a common operator limit for a reduced-cost combination."""

    max_doubles: int | None = DEFAULT_TICKET_BUDGET.max_doubles
    max_triples: int | None = DEFAULT_TICKET_BUDGET.max_triples
    max_lines: int | None = DEFAULT_TICKET_BUDGET.max_lines

    def budget(self) -> TicketBudget:
        return TicketBudget(self.max_doubles, self.max_triples, self.max_lines)


@partitioned_multi_asset(
    name="jackpot_predictions", partitions_def=jackpot_partitions, stage_index=10,
    specs=[AssetSpec("jackpot_predictions", group_name=GROUP, code_version=JACKPOT_CODE_VERSION, skippable=True,
                     deps=["teams", every_partition_of("team_strength_snapshots"),
                           every_partition_of("calibration_curves")],
                     description="Finalised sets A-G per fixture of a jackpot card (tables jackpots + "
                     "jackpot_predictions, written once): latest strength snapshot before each kick-off, operator odds "
                     "de-vigged as the market, the season's calibration map. A changed card or model is refused.")],
)
def jackpot_predictions(context: AssetExecutionContext, warehouse: WarehouseResource, jackpot_files: JackpotFilesResource):
    refuse_chained_batches(context, "jackpot_predictions")
    results, cards, failures = {}, {}, {}
    for key in partition_keys(context):
        try:
            card = jackpot_files.find_card(key)
            finalised = finalise_card(warehouse.store, card, run_id=context.run.run_id, now=dt.datetime.now(dt.UTC),
                                      code_version=JACKPOT_CODE_VERSION)
        except _REFUSALS as error:
            failures[key] = str(error)
            continue
        for warning in finalised.warnings:
            (context.log.error if ": critical:" in warning else context.log.warning)(warning)
        cards[key] = card.sha256
        results[key] = {"jackpot_predictions": Materialized(finalised.data_version, finalised.metadata)}
    inputs = current_inputs(context.instance, stage_named("jackpot_predictions"), list(results), {"card": cards})
    yield from materializations(context, results, {k: fp for k, (fp, _) in inputs.items()},
                                {"jackpot_predictions": JACKPOT_CODE_VERSION})
    raise_failures(failures, len(partition_keys(context)))


@partitioned_multi_asset(
    name="jackpot_outputs", partitions_def=jackpot_partitions, stage_index=11,
    specs=[
        AssetSpec("jackpot_exports", group_name=GROUP, code_version=JACKPOT_CODE_VERSION, skippable=True,
                  deps=["jackpot_predictions"],
                  description="data/exports/<jackpot_id>.json and .csv (atomic): every fixture's sets A-G with warnings "
                  "and explanations, and per set the most-likely and the budget-optimised ticket with the exact "
                  "distribution of correct picks, P(all correct), P(>= n-1), P(>= n-2)."),
        AssetSpec("jackpot_validation", group_name=GROUP, code_version=JACKPOT_CODE_VERSION, skippable=True,
                  deps=["jackpot_predictions", every_partition_of("canonical_matches")],
                  description="Every set of a finalised jackpot scored on the results known so far (results file beside "
                  "the card first, then played canonical matches within 3 days of the kick-off): correct picks, Brier, "
                  "log loss, RPS (tables jackpot_validation, jackpot_results; replaced at each run)."),
    ],
)
def jackpot_outputs(context: AssetExecutionContext, config: TicketBudgetConfig, warehouse: WarehouseResource,
                    jackpot_files: JackpotFilesResource):
    refuse_chained_batches(context, "jackpot_outputs")
    results, files, failures, now = {}, {}, {}, dt.datetime.now(dt.UTC)
    for key in partition_keys(context):
        try:
            exported = export_jackpot(warehouse.store, key, config.budget(), jackpot_files.exports)
            scored = score_jackpot(warehouse.store, key, run_id=context.run.run_id, now=now)
        except _REFUSALS as error:
            failures[key] = str(error)
            continue
        results[key] = {"jackpot_exports": Materialized(exported.data_version, exported.metadata),
                        "jackpot_validation": Materialized(scored.data_version, scored.metadata)}
        results_file = jackpot_files.results_file(key)
        if results_file is not None:
            files[key] = sha256_file(results_file)
    stage = dataclasses.replace(stage_named("jackpot_outputs"), settings=config.budget().to_dict())
    inputs = current_inputs(context.instance, stage, list(results), {"results": files})
    yield from materializations(context, results, {k: fp for k, (fp, _) in inputs.items()},
                                dict.fromkeys(("jackpot_exports", "jackpot_validation"), JACKPOT_CODE_VERSION))
    raise_failures(failures, len(partition_keys(context)))


jackpot_assets = [jackpot_predictions, jackpot_outputs]
