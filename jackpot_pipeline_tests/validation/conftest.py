"""Real out-of-sample predictions shared by the validation tests (built once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

from jackpot_pipeline_tests.validation.real_predictions import long_predictions

LEAGUES = ("E0", "D1")
SEASONS = ["2021", "2122", "2223", "2324"]


@pytest.fixture(scope="session")
def real_long(shared_data) -> pd.DataFrame:
    """Long match_predictions rows of E0 and D1, 2020/21-2023/24 (sets A-G, market_pre, market_close)."""
    return pd.concat([long_predictions(shared_data, league, SEASONS) for league in LEAGUES], ignore_index=True)
