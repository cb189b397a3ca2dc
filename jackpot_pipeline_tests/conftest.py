"""Shared fixtures: the real football-data.co.uk files live in ../shared/football-data and are
read (or copied) at test time, never committed into the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _find_shared_football_data() -> Path:
    configured = os.environ.get("JACKPOT_SHARED_FOOTBALL_DATA")
    candidates = [Path(configured)] if configured else []
    candidates += [PROJECT_ROOT.parent / "shared" / "football-data", Path("/work/shared/football-data")]
    for candidate in candidates:
        if (candidate / "MANIFEST.md").is_file():
            return candidate.resolve()
    raise RuntimeError(
        "the shared football-data folder was not found; set JACKPOT_SHARED_FOOTBALL_DATA "
        f"(looked in: {', '.join(str(c) for c in candidates)})"
    )


SHARED_FOOTBALL_DATA = _find_shared_football_data()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the read-only shared football-data tree (mmz4281/, new/)."""
    return SHARED_FOOTBALL_DATA


@pytest.fixture(scope="session")
def shared_base_url(shared_data: Path) -> str:
    return shared_data.as_uri()

# MLflow tracking costs seconds per run (its store's schema migrations); the tracking tests turn it on.
os.environ.setdefault("JACKPOT_MLFLOW", "off")
