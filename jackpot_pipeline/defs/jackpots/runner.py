"""``predict_cards``: the ``make run`` step after modeling -- every card in ``data/jackpots/`` through Dagster."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import duckdb
from dagster import DagsterInstance, Definitions

from jackpot_pipeline.defs.jackpots.partitions import jackpot_partitions
from jackpot_pipeline.defs.jackpots.sensors import TAG_CARD_PATH, TAG_CARD_SHA256, jackpot_job, jackpot_refresh_job
from jackpot_pipeline.defs.jackpots.store import table_exists
from jackpot_pipeline.defs.runs import step_failure_message
from jackpot_pipeline.jackpots.cards import load_cards
from jackpot_pipeline.settings import Settings

__all__ = ["JackpotOutcome", "predict_cards"]


@dataclass
class JackpotOutcome:
    finalised: list[str] = field(default_factory=list)  # predicted now for the first time
    refreshed: list[str] = field(default_factory=list)  # finalised earlier, same card: exports + validation only
    skipped: dict[str, str] = field(default_factory=dict)  # card file -> why it cannot be loaded
    failed: dict[str, str] = field(default_factory=dict)  # jackpot_id -> error (refusals included)


def _finalised_cards(settings: Settings) -> dict[str, str]:
    if not settings.warehouse_path.exists():
        return {}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        if not table_exists(connection, "jackpots"):
            return {}
        return dict(connection.execute("SELECT jackpot_id, card_sha256 FROM jackpots").fetchall())


def predict_cards(
    defs: Definitions,
    settings: Settings,
    instance: DagsterInstance,
    *,
    run_config: Mapping[str, object] | None = None,
    log: Callable[[str], None] = print,
) -> JackpotOutcome:
    """Predict (finalise) every new card, refresh exports and validation of finalised ones.

    A card finalised earlier with the same bytes only gets ``jackpot_refresh_job`` (exports + results),
    so a model refitted since does not turn every make run into a refusal; a *changed* finalised card
    runs ``jackpot_job`` and is refused with the reason (in ``failed``). ``defs`` must hold the jackpot
    assets and jobs (see ``jackpot_pipeline.defs.jackpots``).
    """
    outcome = JackpotOutcome()
    cards, errors = load_cards(settings.jackpots_dir)
    for error in errors:
        outcome.skipped[error.file] = str(error)
        log(f"jackpot card skipped: {error}")
    new = [card.jackpot_id for card in cards if not instance.has_dynamic_partition(jackpot_partitions.name, card.jackpot_id)]
    if new:
        instance.add_dynamic_partitions(jackpot_partitions.name, new)
    finalised = _finalised_cards(settings)
    for card in cards:
        refresh = finalised.get(card.jackpot_id) == card.sha256
        job = defs.resolve_job_def((jackpot_refresh_job if refresh else jackpot_job).name)
        result = job.execute_in_process(
            instance=instance,
            partition_key=card.jackpot_id,
            raise_on_error=False,
            run_config=run_config,
            tags={"jackpot/trigger": "make run", TAG_CARD_PATH: str(card.source_path), TAG_CARD_SHA256: card.sha256},
        )
        if not result.success:
            outcome.failed[card.jackpot_id] = step_failure_message(result)
            log(f"jackpot {card.jackpot_id} FAILED: {outcome.failed[card.jackpot_id]}")
            continue
        (outcome.refreshed if refresh else outcome.finalised).append(card.jackpot_id)
    log(f"jackpots: {len(outcome.finalised)} finalised, {len(outcome.refreshed)} refreshed, "
        f"{len(outcome.skipped)} card file(s) skipped, {len(outcome.failed)} failed")
    return outcome
