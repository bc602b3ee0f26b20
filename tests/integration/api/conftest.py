"""An API client over a fresh store, with a user and a token for every role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tactica.api.app import create_app
from tactica.config import Settings
from tactica.domain.access import Role
from tactica.services import users
from tactica.store.db import Store

PASSWORD = "correct horse battery"


@dataclass
class Api:
    """A test client plus ready-made auth headers per role."""

    client: TestClient
    store: Store
    headers: dict[str, dict[str, str]]

    def as_(self, role: str) -> dict[str, str]:
        """Headers that authenticate as the user of ``role``."""
        return self.headers[role]


@contextmanager
def api_over(store: Store) -> Iterator[Api]:
    """The app over ``store``, with a user and a token for every role."""
    headers: dict[str, dict[str, str]] = {}
    with store.session() as s:
        for role in Role:
            u = users.create_user(s, role.value, PASSWORD, role.value, actor="test")
            secret, _ = users.create_token(s, u, name="test", actor="test")
            headers[role.value] = {"Authorization": f"Bearer {secret}"}
        s.commit()
    app = create_app(Settings(secret_key="test"), store)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield Api(client, store, headers)


@pytest.fixture
def api(store: Store) -> Iterator[Api]:
    """The app over ``store`` (SQLite and PostgreSQL), users ``admin``, ``marketer``..."""
    with api_over(store) as a:
        yield a
