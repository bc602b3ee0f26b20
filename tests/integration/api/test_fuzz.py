"""Fuzz the API from its own OpenAPI spec: no input, however odd, gets a server error.

Runs on SQLite and PostgreSQL (PostgreSQL refuses values SQLite takes, such as NUL
characters in text, so both matter). Calls carry an admin token so that the
fuzzing reaches past authentication into every route's logic.

The default run is derandomised, so CI is repeatable; explore further with
``TACTICA_FUZZ_EXAMPLES=500 TACTICA_FUZZ_RANDOM=1 pytest tests/integration/api/test_fuzz.py``.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.integration.api.conftest import Api


@pytest.fixture
def api_schema(api: Api) -> schemathesis.BaseSchema:
    """The app's own OpenAPI spec, loaded straight from the ASGI app."""
    return schemathesis.openapi.from_asgi("/openapi.json", api.client.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("TACTICA_FUZZ_EXAMPLES", "30")),
    derandomize=os.environ.get("TACTICA_FUZZ_RANDOM", "") != "1",
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_server_errors(case: schemathesis.Case, api: Api) -> None:
    case.call_and_validate(
        headers=api.as_("admin"), checks=[not_a_server_error, response_schema_conformance]
    )
