"""Schemathesis against the app's own OpenAPI document: requests generated from every operation's schema (valid
ones, and in a second pass ones that break the schema) never get a 5xx.

The app runs in-process (ASGI) over the modeled warehouse and Dagster instance, with an admin token so generated
requests reach the handlers rather than stopping at 401. Cards and exports go to a scratch data directory (a copy
of the modeled exports), and launching is off: a generated card that happens to be valid is stored, not run.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from jackpot_pipeline.api.access import AccessStore
from jackpot_pipeline.api.app import create_app

EXAMPLES = 50
# Operations whose every input is fixed by the schema (no parameters, no body) cannot give 50 distinct requests;
# Hypothesis stops after the one there is.
WITHOUT_INPUTS = {"GET /api/v1/system/health", "GET /api/v1/models/health", "GET /api/v1/data/freshness",
                  "GET /api/v1/tokens", "GET /api/v1/jackpots"}


@pytest.fixture(scope="module")
def fuzzed_app(modeled, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(modeled.exports, scratch / "exports")
    (scratch / "jackpots").mkdir(parents=True)
    settings_ = replace(modeled.settings, data_dir=scratch, warehouse_url=str(modeled.settings.warehouse_root))
    access = AccessStore(scratch / "api" / "access.sqlite3")
    token = access.issue("fuzzer", "admin").token
    app = create_app(settings_, access=access, instance_factory=lambda: modeled.instance, launch="never")
    return app, token


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_generated_request_gets_a_server_error(fuzzed_app, mode):
    app, token = fuzzed_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    calls: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case):
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            calls[label] += 1
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                server_errors.append(f"{label} {case.path_parameters} {case.query} {str(case.body)[:200]} -> "
                                     f"{response.status_code} {response.text[:300]}")

        try:
            exercise()
        except Exception as error:  # an operation with no invalid input to generate, in negative mode
            if mode is GenerationMode.NEGATIVE and "Unsatisfiable" in type(error).__name__:
                continue
            raise
    assert server_errors == []
    print(f"\n{mode.value}: {sum(calls.values())} requests, statuses {dict(sorted(statuses.items()))}")
    if mode is GenerationMode.POSITIVE:
        for operation in operations:
            label = f"{operation.method.upper()} {operation.path}"
            if label not in WITHOUT_INPUTS:
                assert calls[label] >= EXAMPLES, (label, calls[label])
        assert statuses[200] > 0 and statuses[422] > 0
