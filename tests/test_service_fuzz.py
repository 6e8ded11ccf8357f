"""Schemathesis over the service's own OpenAPI: no request it can generate gets a 5xx.

Bounded (IOTIDS_FUZZ_EXAMPLES per operation, default 40) so it stays well
under a minute.
"""

from __future__ import annotations

import os
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from iotids.service import Limits, create_app

EXAMPLES = int(os.environ.get("IOTIDS_FUZZ_EXAMPLES", "40"))


def test_no_server_errors(common_bundle: Path) -> None:
    # The operations' strategies driven by hypothesis directly (schemathesis'
    # pytest plugin does not work with this pytest).
    api = schemathesis.openapi.from_asgi("/openapi.json", create_app(common_bundle, Limits(max_batch=50)))
    checked = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error])
            assert "Traceback" not in response.text

        run()
        checked.append(operation.label)
    assert {"POST /v1/score", "GET /v1/model", "GET /healthz"} <= set(checked)
