"""Validation: per league-season reports, the summary, the model registry and data freshness."""

from jackpot_pipeline.defs.validation.assets import validation_assets

__all__ = ["validation_assets"]
