"""Importing customers from the browser: check a file, import it, refuse a bad one whole."""

from __future__ import annotations

import re

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.store.customer_table import customer_table, load_schema
from tactica.store.db import Store
from tests.integration.web.conftest import csrf_of, sign_in

PAGE = "/ui/imports/customers"
GOOD = b"id;age;email;vip\nc1;34;c1@example.com;true\nc2;51;;false\nc3;29;c3@example.com;true\n"


def _upload(client: TestClient, name: str, content: bytes, **fields: str) -> httpx.Response:
    csrf = csrf_of(client.get(PAGE).text)
    return client.post(
        PAGE,
        data={"csrf": csrf, **fields},
        files={"file": (name, content, "text/csv")},
        follow_redirects=False,
    )


def _customers(store: Store) -> dict[str, dict[str, object]]:
    with store.session() as s:
        table = customer_table(load_schema(s))
        return {r["id"]: dict(r) for r in s.execute(sa.select(table)).mappings()}


def _tile(html: str, measure: str) -> str:
    found = re.search(rf'data-measure="{measure}">.*?<span class="value">([^<]*)<', html, re.S)
    assert found is not None, html
    return found.group(1)


def test_a_marketer_checks_a_file_then_imports_it(client: TestClient, store: Store) -> None:
    sign_in(client, "marketer")
    assert 'href="/ui/imports/customers"' in client.get("/ui/customers").text
    r = _upload(client, "people.csv", GOOD, dry_run="1")
    assert r.status_code == 200
    assert "Checked people.csv: nothing was written" in r.text
    assert _tile(r.text, "rows_read") == "3" and _tile(r.text, "inserted") == "3"
    assert 'data-column="age"' in r.text
    assert _customers(store) == {}
    r = _upload(client, "people.csv", GOOD)
    assert r.status_code == 200 and "Imported people.csv" in r.text
    rows = _customers(store)
    assert sorted(rows) == ["c1", "c2", "c3"]
    assert rows["c2"]["age"] == 51 and rows["c1"]["email"] == "c1@example.com"
    # The same file again changes nobody; a changed row updates that customer only.
    r = _upload(client, "people.csv", GOOD.replace(b"c2;51", b"c2;52"))
    assert _tile(r.text, "updated") == "3" and _tile(r.text, "unchanged") == "2"
    assert _customers(store)["c2"]["age"] == 52


def test_a_file_with_bad_rows_is_refused_whole_and_names_them(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "marketer")
    assert _upload(client, "people.csv", GOOD).status_code == 200
    bad = b"id;age\nc4;40\nc5;old\nc6;\xc3\xa9\n"
    r = _upload(client, "more.csv", bad)
    assert r.status_code == 422
    assert "2 row(s) cannot be imported; nothing was written" in r.text
    assert re.search(r"row 3, column <code>age</code>: <code>old</code>", r.text), r.text
    assert "c4" not in _customers(store)
    r = client.post(PAGE, data={"csrf": csrf_of(client.get(PAGE).text)}, follow_redirects=False)
    assert r.status_code == 422 and "choose a CSV or Parquet file" in r.text
    r = _upload(client, "empty.csv", b"")
    assert r.status_code == 422 and 'id="file-error"' in r.text and "empty" in r.text


def test_only_who_changes_customers_imports_and_only_with_the_pages_form(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "analyst")
    assert 'href="/ui/imports/customers"' not in client.get("/ui/customers").text
    assert client.get(PAGE).status_code == 403
    csrf = csrf_of(client.get("/ui/customers").text)
    r = client.post(PAGE, data={"csrf": csrf}, files={"file": ("p.csv", GOOD, "text/csv")})
    assert r.status_code == 403
    client.cookies.clear()
    sign_in(client, "marketer")
    client.get(PAGE)
    r = client.post(PAGE, data={"csrf": "forged"}, files={"file": ("p.csv", GOOD, "text/csv")})
    assert r.status_code == 403
    assert _customers(store) == {}
