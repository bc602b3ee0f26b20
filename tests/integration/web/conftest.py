"""What the web page tests share: a browser-like client and signing in through the form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient

from tactica.api.app import create_app
from tactica.config import Settings
from tactica.domain.schema import FieldDef, FieldType
from tactica.services import as_code, lists, segments
from tactica.store.customer_table import add_fields, customer_table, load_schema
from tactica.store.db import Store
from tests.integration.api.conftest import PASSWORD, api_over
from tests.integration.runs.conftest import PROGRAM, customers


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    """A browser-like client (it keeps cookies) over the app, with a user per role
    (``admin``, ``marketer``, ``analyst``, ``sales_rep``, ``integration``)."""
    with api_over(store):
        pass
    with TestClient(create_app(Settings(secret_key="test"), store)) as c:
        yield c


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient, username: str, next_: str = "") -> None:
    """Sign ``username`` in through the form, as a browser would."""
    page = client.get("/ui/login")
    r = client.post(
        "/ui/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": next_,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def post_form(client: TestClient, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """Open ``page``, then submit ``data`` to ``action`` with the page's CSRF token."""
    html = client.get(page).text
    return client.post(action, data={**data, "csrf": csrf_of(html)}, follow_redirects=False)


def seed_marketing(store: Store) -> Store:
    """40 customers aged 20..59, a 'young' segment (age < 40), an SMS opt-out (c05),
    the offers GOLD and SAVER and the two-campaign program 'spring'."""
    with store.session() as s:
        add_fields(s, [FieldDef("age", FieldType.INT), FieldDef("balance", FieldType.FLOAT)])
        s.execute(sa.insert(customer_table(load_schema(s))), customers())
        segments.create_segment(s, "young", rule="age < 40", actor="t")
        lists.add_entry(s, "opt_out", lists.EntryInput("c05", channel="sms"), actor="t")
        as_code.apply_documents(s, list(yaml.safe_load_all(PROGRAM)), source="test", actor="t")
        s.commit()
    return store


@pytest.fixture
def marketing(store: Store) -> Store:
    """The store seeded by :func:`seed_marketing`."""
    return seed_marketing(store)
