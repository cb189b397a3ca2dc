"""Fixtures of the jackpot shell tests: the process's modeled workspace (see
:mod:`jackpot_pipeline_tests.defs.modeled`) and a light workspace without any data (enough for cards that
fail before the warehouse is read)."""

from __future__ import annotations

import pytest
from dagster import instance_for_test

from jackpot_pipeline.settings import Settings
from jackpot_pipeline_tests.defs.modeled import (
    LEAGUES,
    ModeledWorkspace,
    modeled_workspace,
)


@pytest.fixture(scope="session")
def modeled(request, tmp_path_factory, shared_data) -> ModeledWorkspace:
    return modeled_workspace(request.config, tmp_path_factory, shared_data)


@pytest.fixture
def light(tmp_path, shared_data):
    settings = Settings(base_url=shared_data.as_uri(), leagues=LEAGUES, seasons_spec="2122-2324", data_dir=tmp_path / "data")
    settings.jackpots_dir.mkdir(parents=True)
    with instance_for_test() as instance:
        yield ModeledWorkspace(settings, instance, shared_data)

