"""Fuzz the API from its own OpenAPI spec: no input, however odd, gets a server error.

Runs on SQLite and PostgreSQL (PostgreSQL refuses values SQLite takes, such as NUL
characters in text, so both matter). Calls carry an admin token so that the
fuzzing reaches past authentication into every route's logic. One store per
database serves every operation of the module (fuzzed calls only add rows; a store
migrated per operation was most of the module's time).

The default run is derandomised, so CI is repeatable; explore further with
``TACTICA_FUZZ_EXAMPLES=500 TACTICA_FUZZ_RANDOM=1 pytest tests/integration/api/test_fuzz.py``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tactica.store.db import Store
from tests.conftest import fresh_pg_schema
from tests.integration.api.conftest import Api, api_over


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """The app over one migrated store per database, for the whole module."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'tactica.db'}"
        else:
            url = stack.enter_context(fresh_pg_schema())
        store = Store(url)
        stack.callback(store.dispose)
        store.upgrade()
        yield stack.enter_context(api_over(store))


@pytest.fixture
def api_schema(fuzzed: Api) -> schemathesis.BaseSchema:
    """The app's own OpenAPI spec, loaded straight from the ASGI app."""
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed.client.app)


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
def test_no_server_errors(case: schemathesis.Case, fuzzed: Api) -> None:
    case.call_and_validate(
        headers=fuzzed.as_("admin"), checks=[not_a_server_error, response_schema_conformance]
    )
