"""Polling for tests that drive a real daemon."""

import time


def wait_for(predicate, timeout: float, what: str):
    """The first truthy value of ``predicate()``, polled every second, or an AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
