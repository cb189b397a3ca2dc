"""The code location with the jackpot feature wired in, as ``definitions.py`` is asked to wire it.

Tests build it with their own settings; ``dagster-daemon -w`` loads ``defs`` (settings from the environment).
"""

from dagster import Definitions

from jackpot_pipeline.definitions import build_definitions
from jackpot_pipeline.defs.jackpots import jackpot_assets, jackpot_jobs, jackpot_resources, jackpot_sensors
from jackpot_pipeline.settings import Settings, load_settings


def jackpot_definitions(settings: Settings) -> Definitions:
    return Definitions.merge(
        build_definitions(settings),
        Definitions(assets=jackpot_assets, jobs=jackpot_jobs, sensors=jackpot_sensors, resources=jackpot_resources(settings)),
    )


defs = jackpot_definitions(load_settings())
