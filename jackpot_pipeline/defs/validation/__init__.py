"""Validation: reports, summary, model registry, freshness and the weekly refit schedule.

Wire into ``definitions.py`` with ``validation_assets``, ``validation_checks``, ``validation_jobs``,
``validation_schedules`` and ``validation_sensors``.
"""

from jackpot_pipeline.defs.validation.assets import validation_assets, validation_checks
from jackpot_pipeline.defs.validation.schedules import validation_jobs, validation_schedules, validation_sensors

__all__ = ["validation_assets", "validation_checks", "validation_jobs", "validation_schedules", "validation_sensors"]
