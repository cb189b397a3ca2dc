"""Jackpot cards in Dagster: the thin shell over :mod:`jackpot_pipeline.jackpots`."""

from __future__ import annotations

from jackpot_pipeline.defs.jackpots.assets import TicketBudgetConfig, jackpot_assets, jackpot_outputs, jackpot_predictions
from jackpot_pipeline.defs.jackpots.resources import JackpotFilesResource
from jackpot_pipeline.defs.jackpots.trace import TraceError, format_trace, trace_jackpot
from jackpot_pipeline.settings import Settings

__all__ = ["JackpotFilesResource", "TicketBudgetConfig", "TraceError", "format_trace", "jackpot_assets", "jackpot_outputs",
           "jackpot_predictions", "jackpot_resources", "trace_jackpot"]


def jackpot_resources(settings: Settings) -> dict[str, object]:
    """``{"jackpot_files": ...}``: cards in ``settings.jackpots_dir``, exports to ``settings.exports_dir``."""
    return {"jackpot_files": JackpotFilesResource(jackpots_dir=str(settings.jackpots_dir), exports_dir=str(settings.exports_dir))}
