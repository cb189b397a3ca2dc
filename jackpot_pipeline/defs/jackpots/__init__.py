"""Jackpot cards in Dagster (issue 5): the thin shell over :mod:`jackpot_pipeline.jackpots`.

Wiring (done by the lead in ``jackpot_pipeline/definitions.py``)::

    from jackpot_pipeline.defs.jackpots import jackpot_assets, jackpot_jobs, jackpot_resources, jackpot_sensors

    Definitions(assets=[..., *jackpot_assets], jobs=[..., *jackpot_jobs], sensors=[..., *jackpot_sensors],
                resources=build_resources(settings) | jackpot_resources(settings))

The assets also need the ``warehouse`` resource of ``build_resources``. ``predict_cards`` is the
``make run`` step (after match predictions and teams); ``trace_jackpot`` / ``format_trace`` back the
``jackpot-pipeline trace`` subcommand.
"""

from __future__ import annotations

from jackpot_pipeline.defs.jackpots.assets import (
    JACKPOT_CODE_VERSION,
    FinalisedJackpotError,
    TicketBudgetConfig,
    jackpot_assets,
    jackpot_exports,
    jackpot_predictions,
    jackpot_validation,
)
from jackpot_pipeline.defs.jackpots.partitions import jackpot_partitions
from jackpot_pipeline.defs.jackpots.resources import JackpotFilesResource
from jackpot_pipeline.defs.jackpots.runner import JackpotOutcome, predict_cards
from jackpot_pipeline.defs.jackpots.sensors import (
    jackpot_card_sensor,
    jackpot_job,
    jackpot_jobs,
    jackpot_refresh_job,
    jackpot_sensors,
    plan_card_runs,
)
from jackpot_pipeline.defs.jackpots.trace import TraceError, format_trace, trace_jackpot
from jackpot_pipeline.settings import Settings

__all__ = [
    "JACKPOT_CODE_VERSION",
    "FinalisedJackpotError",
    "JackpotFilesResource",
    "JackpotOutcome",
    "TicketBudgetConfig",
    "TraceError",
    "format_trace",
    "jackpot_assets",
    "jackpot_card_sensor",
    "jackpot_exports",
    "jackpot_job",
    "jackpot_jobs",
    "jackpot_partitions",
    "jackpot_predictions",
    "jackpot_refresh_job",
    "jackpot_resources",
    "jackpot_sensors",
    "jackpot_validation",
    "plan_card_runs",
    "predict_cards",
    "trace_jackpot",
]


def jackpot_resources(settings: Settings) -> dict[str, object]:
    """``{"jackpot_files": ...}``: cards in ``settings.jackpots_dir``, exports to ``settings.exports_dir``."""
    return {
        "jackpot_files": JackpotFilesResource(
            jackpots_dir=str(settings.jackpots_dir), exports_dir=str(settings.exports_dir)
        )
    }
