"""``jackpot_card_sensor``: one ``jackpots`` partition and one run per new or changed card in ``data/jackpots/``.

Cursor: ``{file name: sha256}`` of every card and results file seen. A card is (re)requested when its
bytes change; a card that fails to load is logged with its :class:`CardError` message, remembered in
the cursor (so it is logged once per version, not every tick) and skipped, without affecting the other
cards. Run keys are ``<file name>:<sha256>``, so the daemon never runs one version of a file twice.

A changed ``<card stem>.results.csv`` requests a refresh run (exports + validation) of its predicted card.
"""


import json
from dataclasses import dataclass, field
from pathlib import Path

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)

from jackpot_pipeline.defs.jackpots.assets import jackpot_exports, jackpot_predictions, jackpot_validation
from jackpot_pipeline.defs.jackpots.partitions import jackpot_partitions
from jackpot_pipeline.defs.jackpots.resources import JackpotFilesResource, card_files, results_files
from jackpot_pipeline.jackpots.cards import RESULTS_SUFFIX, load_cards
from jackpot_pipeline.sources.fetch import sha256_file

__all__ = [
    "CardPlan", "jackpot_card_sensor", "jackpot_job", "jackpot_jobs", "jackpot_sensors", "jackpot_refresh_job",
    "plan_card_runs",
]

jackpot_job = define_asset_job(
    "jackpot_job",
    selection=[jackpot_predictions, jackpot_exports, jackpot_validation],
    description="Finalise one jackpot card (predictions), write its exports and score it on the results so far.",
)
jackpot_refresh_job = define_asset_job(
    "jackpot_refresh_job",
    selection=[jackpot_exports, jackpot_validation],
    description="Re-export a finalised jackpot and score it on the results known now (no prediction).",
)
jackpot_jobs = [jackpot_job, jackpot_refresh_job]

TAG_CARD_PATH = "jackpot/card_path"
TAG_CARD_SHA256 = "jackpot/card_sha256"


@dataclass
class CardPlan:
    run_requests: list[RunRequest] = field(default_factory=list)
    new_partitions: list[str] = field(default_factory=list)
    cursor: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_card_runs(folder: Path, cursor: dict[str, str], existing_partitions: set[str]) -> CardPlan:
    """Pure planning for the sensor: runs to request, partitions to add, errors to log, the next cursor."""
    plan = CardPlan()
    cards, errors = load_cards(folder)
    cards_by_name = {card.source_path.name: card for card in cards}
    errors_by_name: dict[str, list[str]] = {}
    for error in errors:
        errors_by_name.setdefault(Path(error.file).name, []).append(str(error))
    requested: set[str] = set()
    for path in card_files(folder):
        card = cards_by_name.get(path.name)
        sha256 = card.sha256 if card is not None else sha256_file(path)
        plan.cursor[path.name] = sha256
        if cursor.get(path.name) == sha256:
            continue
        if card is None:
            plan.errors.extend(errors_by_name.get(path.name, [f"{path}: not loaded"]))
            continue
        plan.run_requests.append(RunRequest(
            run_key=f"{path.name}:{sha256}",
            job_name=jackpot_job.name,
            partition_key=card.jackpot_id,
            tags={TAG_CARD_PATH: str(path), TAG_CARD_SHA256: sha256},
        ))
        requested.add(card.jackpot_id)
        if card.jackpot_id not in existing_partitions and card.jackpot_id not in plan.new_partitions:
            plan.new_partitions.append(card.jackpot_id)
    cards_by_stem = {card.source_path.stem: card for card in cards}
    for path in results_files(folder):
        sha256 = sha256_file(path)
        plan.cursor[path.name] = sha256
        if cursor.get(path.name) == sha256:
            continue
        card = cards_by_stem.get(path.name[: -len(RESULTS_SUFFIX)])
        if card is None or card.jackpot_id not in existing_partitions:
            plan.notes.append(f"{path}: no predicted card {path.name[: -len(RESULTS_SUFFIX)]}.json|.csv beside it yet")
            continue
        if card.jackpot_id in requested:
            continue  # its jackpot_job run validates too
        plan.run_requests.append(RunRequest(
            run_key=f"{path.name}:{sha256}",
            job_name=jackpot_refresh_job.name,
            partition_key=card.jackpot_id,
            tags={TAG_CARD_PATH: str(card.source_path), "jackpot/results_sha256": sha256},
        ))
    return plan


@sensor(
    jobs=jackpot_jobs,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches data/jackpots/: adds a jackpots partition and requests a prediction run per new or changed "
    "card (bad cards are logged and skipped), and a refresh (exports + validation) per new or changed results file.",
)
def jackpot_card_sensor(context: SensorEvaluationContext, jackpot_files: JackpotFilesResource):
    cursor = json.loads(context.cursor) if context.cursor else {}
    plan = plan_card_runs(jackpot_files.root, cursor, set(context.instance.get_dynamic_partitions(jackpot_partitions.name)))
    for error in plan.errors:
        context.log.error(f"card skipped: {error}")
    for note in plan.notes:
        context.log.info(note)
    next_cursor = json.dumps(plan.cursor, sort_keys=True)
    if not plan.run_requests and not plan.new_partitions:
        reason = f"no new or changed card in {jackpot_files.root}"
        if plan.errors:
            reason += f" ({len(plan.errors)} card file(s) skipped, see the logs)"
        return SensorResult(skip_reason=SkipReason(reason), cursor=next_cursor)
    return SensorResult(
        run_requests=plan.run_requests,
        dynamic_partitions_requests=[jackpot_partitions.build_add_request(plan.new_partitions)] if plan.new_partitions else [],
        cursor=next_cursor,
    )


jackpot_sensors = [jackpot_card_sensor]
