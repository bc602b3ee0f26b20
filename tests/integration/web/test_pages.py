"""The web pages over HTTP: sign in and out, CSRF, roles, the dashboard and its exports."""

from __future__ import annotations

import csv
import io
import re

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.store.db import Store
from tactica.store.models import ApiToken, User
from tests.integration.api.conftest import PASSWORD
from tests.integration.dispatch.conftest import outbox_store
from tests.integration.web.conftest import csrf_of, sign_in


def test_pages_need_a_session_and_bring_the_user_back_after_signing_in(
    client: TestClient,
) -> None:
    r = client.get("/ui/dashboard?preset=7d", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=/ui/dashboard%3Fpreset%3D7d"
    page = client.get(r.headers["location"])
    assert 'value="/ui/dashboard?preset=7d"' in page.text
    r = client.post(
        "/ui/login",
        data={
            "username": "analyst",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": "/ui/dashboard?preset=7d",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/dashboard?preset=7d"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/ui/dashboard").status_code == 200


def test_a_wrong_password_keeps_the_username_and_says_so(client: TestClient) -> None:
    page = client.get("/ui/login")
    r = client.post(
        "/ui/login",
        data={"username": "marketer", "password": "nope", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 401
    assert "Wrong username or password." in r.text
    assert 'value="marketer"' in r.text
    assert client.get("/ui/dashboard", follow_redirects=False).status_code == 303


def test_sign_in_without_the_forms_csrf_value_is_refused(client: TestClient) -> None:
    client.get("/ui/login")
    r = client.post("/ui/login", data={"username": "admin", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 400 and "expired" in r.text
    assert "tactica_session" not in r.headers.get("set-cookie", "")


def test_signing_out_revokes_the_session(client: TestClient, store: Store) -> None:
    sign_in(client, "marketer")
    page = client.get("/ui/dashboard")
    token = client.cookies.get("tactica_session")
    assert token
    # Without the page's CSRF token, another site cannot sign the user out.
    assert client.post("/ui/logout", data={"csrf": "x"}).status_code == 403
    r = client.post("/ui/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    with store.session() as s:
        revoked = s.scalars(
            sa.select(ApiToken.revoked_at)
            .join(User, User.id == ApiToken.user_id)
            .where(User.username == "marketer", ApiToken.name == "web session")
        ).all()
    assert len(revoked) == 1 and revoked[0] is not None
    # The old cookie no longer opens anything, not even the API.
    client.cookies.set("tactica_session", token)
    assert client.get("/ui/dashboard", follow_redirects=False).status_code == 303
    assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_sales_rep_cannot_reach_the_admin_pages(client: TestClient, store: Store) -> None:
    sign_in(client, "sales_rep")
    page = client.get("/ui/dashboard")
    assert page.status_code == 200
    assert "/ui/admin/users" not in page.text
    r = client.get("/ui/admin/users")
    assert r.status_code == 403 and "may not manage users" in r.text
    r = client.post(
        "/ui/admin/users",
        data={
            "csrf": csrf_of(page.text),
            "username": "mallory",
            "password": "long enough",
            "role": "admin",
            "email": "",
            "full_name": "",
        },
    )
    assert r.status_code == 403
    with store.session() as s:
        assert s.scalar(sa.select(User).where(User.username == "mallory")) is None


def test_adding_a_user_shows_errors_by_field_keeps_what_was_typed_and_writes_nothing(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "admin")
    page = client.get("/ui/admin/users")
    form = {
        "csrf": csrf_of(page.text),
        "username": "rita",
        "password": "short",
        "role": "sales_rep",
        "email": "rita@bank.example",
        "full_name": "Rita Reis",
    }
    r = client.post("/ui/admin/users", data=form)
    assert r.status_code == 422
    assert re.search(r'id="password-error">must have at least 8 characters<', r.text)
    assert 'value="rita@bank.example"' in r.text and 'value="Rita Reis"' in r.text
    assert '<option value="sales_rep" selected>' in r.text
    assert 'value="short"' not in r.text  # a password is never sent back
    with store.session() as s:
        assert s.scalar(sa.select(User).where(User.username == "rita")) is None
    r = client.post(
        "/ui/admin/users", data={**form, "username": "marketer", "password": "long enough"}
    )
    assert r.status_code == 422 and 'id="username-error"' in r.text and "exists already" in r.text
    r = client.post("/ui/admin/users", data={**form, "password": "long enough"})
    assert r.status_code == 200 and "User rita added." in r.text
    with store.session() as s:
        assert s.scalar(sa.select(User.role).where(User.username == "rita")) == "sales_rep"
    # A form without its CSRF token changes nothing.
    r = client.post("/ui/admin/users", data={**form, "username": "sam", "csrf": ""})
    assert r.status_code == 403


def test_the_dashboard_shows_a_run_and_exports_what_it_shows(
    client: TestClient, store: Store
) -> None:
    outbox_store(store)  # a run of 'autumn' on 2026-11-24
    sign_in(client, "analyst")
    page = client.get("/ui/dashboard?from=2026-11-24&to=2026-11-24")
    assert page.status_code == 200
    r = client.get("/ui/dashboard.csv?table=campaigns&from=2026-11-24&to=2026-11-24")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert (
        'filename="tactica-campaigns-2026-11-24-2026-11-24.csv"' in r.headers["content-disposition"]
    )
    rows = {(row["Program"], row["Campaign"]): row for row in csv.DictReader(io.StringIO(r.text))}
    with store.session() as s:
        planned = dict(
            s.execute(sa.text("SELECT campaign, count(*) FROM contacts GROUP BY campaign")).all()
        )
    assert planned and {c: int(rows[("autumn", c)]["Planned"]) for c in planned} == planned
    for campaign, n in planned.items():
        row = re.search(rf'data-campaign="autumn/{campaign}">.*?</tr>', page.text, flags=re.S)
        assert row and f'<td class="num">{n:,}</td>' in row.group(0)
    # The day before shows nothing planned.
    r = client.get("/ui/dashboard.csv?table=campaigns&from=2026-11-23&to=2026-11-23")
    assert {row["Planned"] for row in csv.DictReader(io.StringIO(r.text))} == {"0"}


def test_a_bad_range_is_shown_next_to_its_field(client: TestClient) -> None:
    sign_in(client, "marketer")
    r = client.get("/ui/dashboard?from=2026-11-30&to=2026-11-01")
    assert r.status_code == 422
    assert re.search(r'id="to-error">the range ends \(2026-11-01\) before it starts', r.text)
    assert 'value="2026-11-30"' in r.text and 'value="2026-11-01"' in r.text
    r = client.get("/ui/dashboard?from=30/11/2026")
    assert r.status_code == 422 and "is not a date (YYYY-MM-DD)" in r.text
    r = client.get("/ui/dashboard.csv?table=secrets")
    assert r.status_code == 404


def test_the_root_address_leads_to_the_web_application(client: TestClient) -> None:
    r = client.get("/", follow_redirects=True)
    assert r.url.path == "/ui/login" and "Sign in" in r.text
