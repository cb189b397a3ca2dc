"""Settings shared by the property tests that damage real files and cards, so every run of the
suite generates exactly the same examples."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, settings
from hypothesis.internal.conjecture import providers

FUZZ_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextmanager
def reproducible_generation() -> Iterator[None]:
    """Generate without the literals Hypothesis harvests from the project's imported modules.

    derandomize fixes the random seed, but Hypothesis also draws, now and then, constants found in
    the local modules imported so far, and which those are depends on the tests that ran earlier in
    the same worker (pytest-xdist hands tests out by load). Without them a derandomised test draws
    the same examples whatever ran before it. Hypothesis is pinned exactly (pyproject.toml): this
    uses its internal provider module.
    """
    original = providers._get_local_constants
    providers._get_local_constants = providers.Constants
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        providers.CONSTANTS_CACHE.cache.clear()
