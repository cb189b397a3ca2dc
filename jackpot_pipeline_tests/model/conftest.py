"""Fixtures of the model tests: E0 2023/24 and its default Dixon-Coles fit (once per module)."""

from __future__ import annotations

import pytest

from jackpot_pipeline.model.dixon_coles import DixonColesFit
from jackpot_pipeline_tests.model.dixon_coles_fits import fit_season
from jackpot_pipeline_tests.model.season_results import SeasonResults, load_season_results


@pytest.fixture(scope="module")
def e0_2324(shared_data) -> SeasonResults:
    return load_season_results(shared_data, "2324", "E0")


@pytest.fixture(scope="module")
def e0_fit(e0_2324) -> DixonColesFit:
    return fit_season(e0_2324)
