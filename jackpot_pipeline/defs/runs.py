"""Helpers for in-process runs started by the CLI and the publishing stage."""

from dagster import DagsterEventType


def step_failure_message(result) -> str:
    """The user-facing error of a failed in-process run: Dagster's wrappers skipped, the first error of
    ours (or of a library) kept, since that one says what went wrong."""
    failure = next((e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE), None)
    if failure is None:
        return "run failed before any step ran"
    error = failure.event_specific_data.error
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    return error.message.strip()
