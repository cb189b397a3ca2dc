"""Real data for the validation tests.

``real_long``: long match_predictions rows of E0 and D1, 2020/21-2023/24, computed without Dagster (built
once per session). ``validated``: E0 2021/22-2023/24 copied from the shared files and brought up to date by
``make run``'s engine against a temporary instance (ingestion to validation, summary, registry), built once
per session and only read by its tests; ``fresh_validated`` is the same per test, for tests that change it.
"""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import instance_for_test

from jackpot_pipeline.settings import Settings
from jackpot_pipeline_tests.defs.modeled import ModeledWorkspace
from jackpot_pipeline_tests.validation.real_predictions import long_predictions

LEAGUES = ("E0", "D1")
SEASONS = ["2021", "2122", "2223", "2324"]
VALIDATED_SEASONS = ("2122", "2223", "2324")


@pytest.fixture(scope="session")
def real_long(shared_data) -> pd.DataFrame:
    """Long match_predictions rows of E0 and D1, 2020/21-2023/24 (sets A-G, market_pre, market_close)."""
    return pd.concat([long_predictions(shared_data, league, SEASONS) for league in LEAGUES], ignore_index=True)


def validated_workspace(root, shared, instance) -> ModeledWorkspace:
    settings = Settings(base_url=shared.as_uri(), leagues=("E0",), seasons_spec="2122-2324", data_dir=root / "data")
    workspace = ModeledWorkspace(settings, instance, shared)
    workspace.copy(*(f"mmz4281/{season}/E0.csv" for season in VALIDATED_SEASONS))
    workspace.outcome = workspace.pipeline()
    # the copies carry today's snapshot date, so the league is stale: a warning, not a failure
    assert workspace.outcome.success, (workspace.outcome.failed, workspace.outcome.checks_failed)
    return workspace


@pytest.fixture(scope="session")
def validated(tmp_path_factory, shared_data):
    with instance_for_test() as instance:
        yield validated_workspace(tmp_path_factory.mktemp("validated"), shared_data, instance)


@pytest.fixture
def fresh_validated(tmp_path, shared_data):
    with instance_for_test() as instance:
        yield validated_workspace(tmp_path, shared_data, instance)
