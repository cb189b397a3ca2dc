"""The code location with the jackpot feature wired in, as ``definitions.py`` is asked to wire it.

Tests build it with their own settings; ``dagster-daemon -w`` loads ``defs`` (settings from the environment).
Once ``definitions.py`` wires the feature itself, its definitions are used as they are.
"""

from dagster import AssetKey, Definitions

from jackpot_pipeline.definitions import build_definitions
from jackpot_pipeline.defs.jackpots import jackpot_assets, jackpot_jobs, jackpot_resources, jackpot_sensors
from jackpot_pipeline.settings import Settings, load_settings


def jackpot_definitions(settings: Settings) -> Definitions:
    base = build_definitions(settings)
    if base.resolve_asset_graph().has(AssetKey("jackpot_predictions")):
        return base
    return Definitions.merge(
        base,
        Definitions(assets=jackpot_assets, jobs=jackpot_jobs, sensors=jackpot_sensors, resources=jackpot_resources(settings)),
    )


defs = jackpot_definitions(load_settings())
