"""The admin pages: API tokens (issued once, revoked), channels (secrets masked, the
API's checks by field) and the audit log (filters, pages, CSV); who may open them."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.domain.channel_config import ChannelSpec
from tactica.services import audit, channel_configs, runs
from tactica.store.db import Store
from tactica.store.models import ApiToken, AuditEntry, ChannelConfig, Contact, OutboxEntry
from tests.integration.web.conftest import csrf_of, post_form, sign_in

SECRET_RE = re.compile(r'id="new-secret"[^>]*value="(tct_[^"]+)"')


def _tokens(store: Store) -> list[tuple[int, str, datetime | None, datetime | None]]:
    with store.session() as s:
        return [
            tuple(r)  # type: ignore[misc]
            for r in s.execute(
                sa.select(
                    ApiToken.id, ApiToken.name, ApiToken.expires_at, ApiToken.revoked_at
                ).order_by(ApiToken.id)
            )
        ]


def _audit_count(store: Store, entity_type: str) -> int:
    with store.session() as s:
        return int(
            s.scalar(sa.select(sa.func.count()).where(AuditEntry.entity_type == entity_type)) or 0
        )


def _row(page: str, attr: str, value: object) -> str:
    found = re.search(rf'<tr {attr}="{value}"[^>]*>(.*?)</tr>', page, re.S)
    assert found is not None, page
    return found.group(1)


# ------------------------------------------------------------------ tokens


def test_an_issued_token_is_shown_once_opens_the_api_and_stops_when_revoked(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "admin")
    r = post_form(
        client,
        "/ui/admin/tokens",
        "/ui/admin/tokens",
        {"user": "analyst", "name": "billing system", "days": "7"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert 'role="status"' in r.text and "shown only this once" in r.text
    found = SECRET_RE.search(r.text)
    assert found is not None
    secret = found.group(1)
    # The secret authenticates against the API as the user it was issued for.
    me = client.get("/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["username"] == "analyst"
    # Stored with its validity; never shown again.
    tok_id, name, expires, revoked = _tokens(store)[-1]
    assert name == "billing system" and revoked is None
    assert expires is not None
    assert timedelta(days=6.9) < expires - datetime.now(UTC) <= timedelta(days=7)
    page = client.get("/ui/admin/tokens").text
    assert secret not in page
    row = _row(page, "data-token", tok_id)
    assert secret[:10] in row and "billing system" in row and "analyst" in row
    assert "live" in row and "Revoke" in row

    r = post_form(client, "/ui/admin/tokens", f"/ui/admin/tokens/{tok_id}/revoke", {})
    assert r.status_code == 303
    assert f"revoked={tok_id}" in r.headers["location"]
    page = client.get(r.headers["location"]).text
    assert "Token revoked" in page
    row = _row(page, "data-token", tok_id)
    assert "revoked" in row and "Revoke" not in row
    assert _tokens(store)[-1][3] is not None
    # The API refuses it at once (the process forgot the token it had checked).
    assert client.get("/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    # Filters: the revoked token is among the ended ones, not the live ones.
    assert f'data-token="{tok_id}"' in client.get("/ui/admin/tokens?state=ended").text
    assert f'data-token="{tok_id}"' not in client.get("/ui/admin/tokens?state=live").text
    only_marketer = client.get("/ui/admin/tokens?user=marketer").text
    assert f'data-token="{tok_id}"' not in only_marketer and "marketer" in only_marketer
    with store.session() as s:
        log = audit.list_entries(s, entity_type="api_token", entity_id=str(tok_id))
    assert [(e.action, e.actor) for e in log] == [
        ("revoke", "user:admin"),
        ("create", "user:admin"),
    ]


def test_a_refused_token_request_names_its_fields_keeps_them_and_issues_nothing(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "admin")
    before = _tokens(store)
    r = post_form(
        client,
        "/ui/admin/tokens",
        "/ui/admin/tokens",
        {"user": "marketer", "name": "", "days": "0"},
    )
    assert r.status_code == 422
    assert 'id="name-error"' in r.text and 'id="days-error"' in r.text
    assert "from 1 to 3,650 days" in r.text
    assert re.search(r'<option value="marketer" selected>', r.text)
    assert 'aria-invalid="true"' in r.text and 'value="0"' in r.text
    assert SECRET_RE.search(r.text) is None
    r = post_form(
        client, "/ui/admin/tokens", "/ui/admin/tokens", {"user": "ghost", "name": "x", "days": "3"}
    )
    assert r.status_code == 422
    assert re.search(r'id="user-error">[^<]*ghost', r.text)
    assert 'value="x"' in r.text
    # Web sign-ins made tokens of their own; the refused requests made none.
    assert [t for t in _tokens(store) if t[1] != "web session"] == [
        t for t in before if t[1] != "web session"
    ]


def test_a_forged_form_is_refused_and_changes_nothing(client: TestClient, store: Store) -> None:
    sign_in(client, "admin")
    client.get("/ui/admin/tokens")
    before = _tokens(store)
    r = client.post(
        "/ui/admin/tokens", data={"user": "analyst", "name": "x", "days": "3", "csrf": "forged"}
    )
    assert r.status_code == 403 and SECRET_RE.search(r.text) is None
    r = client.post(f"/ui/admin/tokens/{before[0][0]}/revoke", data={"csrf": "forged"})
    assert r.status_code == 403
    r = client.post(
        "/ui/admin/channels",
        data={
            "name": "gw",
            "kind": "webhook",
            "settings": "url=http://x.example\nsecret=s",
            "csrf": "",
        },
    )
    assert r.status_code == 403
    assert _tokens(store) == before
    assert _audit_count(store, "channel") == 0


def test_revoking_an_unknown_token_is_not_found(client: TestClient) -> None:
    sign_in(client, "admin")
    r = post_form(client, "/ui/admin/tokens", "/ui/admin/tokens/999999/revoke", {})
    assert r.status_code == 404


# ------------------------------------------------------------------ who may


@pytest.mark.parametrize("role", ["marketer", "sales_rep"])
def test_marketers_and_sales_reps_may_not_manage_tokens_or_read_the_log(
    client: TestClient, store: Store, role: str
) -> None:
    sign_in(client, role)
    csrf = csrf_of(client.get("/ui/dashboard").text)  # their own session's, valid
    before = _tokens(store)
    for path in ("/ui/admin/tokens", "/ui/admin/audit", "/ui/admin/audit.csv"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "Not allowed" in r.text
    r = client.post("/ui/admin/tokens", data={"user": role, "name": "x", "days": "3", "csrf": csrf})
    assert r.status_code == 403
    r = client.post(f"/ui/admin/tokens/{before[0][0]}/revoke", data={"csrf": csrf})
    assert r.status_code == 403
    assert _tokens(store) == before


def test_channels_follow_the_apis_rule(client: TestClient, store: Store) -> None:
    body = {"name": "gw", "kind": "webhook", "settings": "url=http://x.example\nsecret=s"}
    # A sales rep may neither see nor change channels.
    sign_in(client, "sales_rep")
    csrf = csrf_of(client.get("/ui/dashboard").text)
    assert client.get("/ui/admin/channels").status_code == 403
    assert client.post("/ui/admin/channels", data={**body, "csrf": csrf}).status_code == 403
    # An analyst reads them, with no form, and may not post one.
    client.cookies.clear()
    sign_in(client, "analyst")
    page = client.get("/ui/admin/channels")
    assert page.status_code == 200 and "New channel" not in page.text
    r = client.post("/ui/admin/channels", data={**body, "csrf": csrf_of(page.text)})
    assert r.status_code == 403
    assert client.get("/ui/admin/channels/gw").status_code == 403
    assert _audit_count(store, "channel") == 0
    # A marketer changes programs, so channels too (as PUT /channels allows).
    client.cookies.clear()
    sign_in(client, "marketer")
    r = post_form(client, "/ui/admin/channels", "/ui/admin/channels", {**body, "enabled": "on"})
    assert r.status_code == 303


def test_the_tabs_show_a_role_only_what_it_may_open(client: TestClient) -> None:
    def tabs(page: str) -> list[str]:
        bar = re.search(r'<nav class="tabs" aria-label="Admin pages">(.*?)</nav>', page, re.S)
        assert bar is not None, page
        return re.findall(r">([^<]+)</a>", bar.group(1))

    sign_in(client, "admin")
    assert tabs(client.get("/ui/admin/users").text) == ["Users", "Tokens", "Channels", "Audit log"]
    assert 'href="/ui/admin/audit" aria-current="page"' in client.get("/ui/admin/audit").text
    client.cookies.clear()
    sign_in(client, "analyst")
    assert tabs(client.get("/ui/admin/audit").text) == ["Channels", "Audit log"]


# ------------------------------------------------------------------ channels

SMS = {
    "name": "sms-main",
    "kind": "sms_http",
    "settings": "url=https://sms.example.com/api\napi_key=k-secret-123",
    "enabled": "on",
    "rate_per_second": "20",
    "timezone": "Europe/Lisbon",
    "quiet_start": "21:00",
    "quiet_end": "08:00",
    "max_attempts": "5",
    "retry_base_seconds": "30",
    "retry_cap_seconds": "3600",
    "cost_per_message": "0.05",
}


def _channel(store: Store, name: str) -> ChannelSpec:
    with store.session() as s:
        return channel_configs.get_channel(s, name)


def test_a_channel_is_added_and_listed_with_its_secrets_masked(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "admin")
    r = post_form(client, "/ui/admin/channels", "/ui/admin/channels", SMS)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert "Channel sms-main saved." in page
    row = _row(page, "data-channel", "sms-main")
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
    assert "sms_http" in cells[1] and cells[2] == "sms" and "enabled" in cells[3]
    assert "21:00–08:00 Europe/Lisbon" in cells[6]
    assert "api_key=********" in row and "url=https://sms.example.com/api" in row
    assert "k-secret-123" not in page
    spec = _channel(store, "sms-main")
    assert spec.settings["api_key"] == "k-secret-123"
    assert spec.rate_per_second == 20 and spec.cost_per_message == Decimal("0.05")
    # Adding a channel of a name taken is refused: the add form never replaces one.
    r = post_form(client, "/ui/admin/channels", "/ui/admin/channels", {**SMS, "settings": "x=1"})
    assert r.status_code == 422 and "exists already" in r.text
    assert _channel(store, "sms-main").settings["api_key"] == "k-secret-123"


def test_a_bad_setting_is_named_next_to_its_field_and_nothing_is_written(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "admin")
    typed = {
        **SMS,
        "name": "mail",
        "kind": "smtp",
        "settings": "host=mail.example.com\nport=abc\nsender=offers@example.com\npassword=hunter22",
    }
    r = post_form(client, "/ui/admin/channels", "/ui/admin/channels", typed)
    assert r.status_code == 422
    error = re.search(r'<span class="error" id="settings-error">([^<]*)</span>', r.text)
    assert error is not None and "port: a whole number from 1 to 65535" in error.group(1)
    assert re.search(r'<textarea id="settings"[^>]*aria-invalid="true"', r.text)
    # What was typed stays, except the secret, masked again (and said so).
    assert 'value="mail"' in r.text and 'value="Europe/Lisbon"' in r.text
    assert "host=mail.example.com" in r.text and "hunter22" not in r.text
    assert "password=********" in r.text and "type them once more: password" in r.text
    # The API's model refuses what it refuses, each by field.
    r = post_form(
        client,
        "/ui/admin/channels",
        "/ui/admin/channels",
        {**SMS, "max_attempts": "0", "quiet_start": "25:00", "rate_per_second": "fast"},
    )
    assert r.status_code == 422
    for field in ("max_attempts", "quiet_start", "rate_per_second"):
        assert f'id="{field}-error"' in r.text, field
    assert "a time of day like 21:00" in r.text
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ChannelConfig)) == 0
    assert _audit_count(store, "channel") == 0


def test_a_channel_is_changed_keeping_its_secret_unless_the_change_is_refused(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "marketer")
    assert post_form(client, "/ui/admin/channels", "/ui/admin/channels", SMS).status_code == 303
    page = client.get("/ui/admin/channels/sms-main").text
    assert "api_key=********" in page and "k-secret-123" not in page
    assert 'value="Europe/Lisbon"' in page and 'value="20"' in page
    form = {
        **SMS,
        "settings": "url=https://sms2.example.com/api\napi_key=********",
        "rate_per_second": "50",
        "enabled": "",
    }
    r = post_form(client, "/ui/admin/channels/sms-main", "/ui/admin/channels/sms-main", form)
    assert r.status_code == 303
    spec = _channel(store, "sms-main")
    assert spec.settings == {"url": "https://sms2.example.com/api", "api_key": "k-secret-123"}
    assert spec.rate_per_second == 50 and spec.enabled is False
    audits = _audit_count(store, "channel")
    # A daily capacity is a call centre's: refused by the service's own check, by field.
    r = post_form(
        client,
        "/ui/admin/channels/sms-main",
        "/ui/admin/channels/sms-main",
        {**form, "daily_capacity": "100", "rate_per_second": "7"},
    )
    assert r.status_code == 422
    error = re.search(r'id="daily_capacity-error">([^<]*)<', r.text)
    assert error is not None and "only a call centre has one" in html.unescape(error.group(1))
    assert 'value="100"' in r.text
    assert _channel(store, "sms-main") == spec
    assert _audit_count(store, "channel") == audits
    assert client.get("/ui/admin/channels/nope").status_code == 404


def test_a_channel_is_deleted_from_its_page_and_the_audit_log_keeps_what_it_was(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "marketer")
    assert post_form(client, "/ui/admin/channels", "/ui/admin/channels", SMS).status_code == 303
    page = "/ui/admin/channels/sms-main"
    assert 'hx-confirm="Delete channel sms-main?"' in client.get(page).text
    r = post_form(client, page, f"{page}/delete", {})
    assert r.status_code == 303
    listed = client.get(r.headers["location"]).text
    assert "Channel sms-main deleted." in listed and 'data-channel="sms-main"' not in listed
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ChannelConfig)) == 0
        (last,) = audit.list_entries(s, entity_type="channel", entity_id="sms-main", limit=1)
        assert last.action == "delete" and last.actor == "user:marketer"
    assert post_form(client, "/ui/admin/channels", f"{page}/delete", {}).status_code == 404


def test_only_who_changes_programs_deletes_a_channel_and_only_with_the_pages_form(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "admin")
    assert post_form(client, "/ui/admin/channels", "/ui/admin/channels", SMS).status_code == 303
    r = client.post("/ui/admin/channels/sms-main/delete", data={"csrf": "forged"})
    assert r.status_code == 403
    client.cookies.clear()
    sign_in(client, "analyst")
    csrf = csrf_of(client.get("/ui/admin/channels").text)
    r = client.post("/ui/admin/channels/sms-main/delete", data={"csrf": csrf})
    assert r.status_code == 403
    assert _channel(store, "sms-main").name == "sms-main"


# ------------------------------------------------------------------ the audit log


def _seed_log(store: Store) -> None:
    """Entries on known days: alice's offers in March, bob's users in April, 60 more."""
    rows = [
        ("user:alice", "create", "offer", "GOLD", datetime(2026, 3, 2, 9, tzinfo=UTC), None),
        ("user:alice", "update", "offer", "GOLD", datetime(2026, 3, 20, 23, 59, tzinfo=UTC), None),
        ("user:bob", "update", "user", "rita", datetime(2026, 4, 1, 0, 0, tzinfo=UTC), "role"),
    ]
    with store.session() as s:
        for who, action, kind, subject, at, changed in rows:
            s.add(
                AuditEntry(
                    actor=who,
                    action=action,
                    entity_type=kind,
                    entity_id=subject,
                    at=at,
                    before={"role": "marketer", "email": "r@x.example"} if changed else None,
                    after={"role": "analyst", "email": "r@x.example"}
                    if changed
                    else {"code": subject},
                )
            )
        for i in range(60):
            s.add(
                AuditEntry(
                    actor="system",
                    action="status",
                    entity_type="program",
                    entity_id=f"p{i:02d}",
                    at=datetime(2026, 5, 1, tzinfo=UTC) + timedelta(minutes=i),
                )
            )
        s.commit()


def test_the_audit_log_filters_pages_and_exports_what_it_shows(
    client: TestClient, store: Store
) -> None:
    _seed_log(store)
    sign_in(client, "analyst")
    page = client.get("/ui/admin/audit").text
    # Newest first: the sign-ins' tokens and the 60 program entries fill page 1.
    assert page.count("<tr data-entry=") == 50 and 'rel="next"' in page
    assert '<option value="offer"' in page and '<option value="program"' in page

    page = client.get("/ui/admin/audit?actor=user:alice").text
    assert re.findall(r"<td>(create|update)</td>", page) == ["update", "create"]
    page = client.get("/ui/admin/audit?type=offer&from=2026-03-20&to=2026-03-20").text
    assert page.count("<tr data-entry=") == 1 and "GOLD" in page  # the day is whole
    page = client.get("/ui/admin/audit?from=2026-03-21&to=2026-04-01").text
    assert page.count("<tr data-entry=") == 1
    row = re.search(r"<tr data-entry=.*?</tr>", page, re.S)
    assert row is not None and "user:bob" in row.group(0)
    # What changed, and only that.
    assert "<del>marketer</del> → <ins>analyst</ins>" in row.group(0)
    assert "email" not in row.group(0)

    third = client.get("/ui/admin/audit?type=program&page=2").text
    assert third.count("<tr data-entry=") == 10 and 'rel="prev"' in third
    assert 'rel="next"' not in third and "p09" in third and "p10" not in third

    r = client.get("/ui/admin/audit.csv?type=offer&actor=user:alice&from=2026-03-01&to=2026-03-31")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="tactica-audit-2026-03-01-2026-03-31.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["action"], x["entity_id"]) for x in rows] == [("update", "GOLD"), ("create", "GOLD")]
    assert rows[0]["after"] == '{"code": "GOLD"}' and rows[0]["before"] == ""
    every = list(csv.DictReader(io.StringIO(client.get("/ui/admin/audit.csv?type=program").text)))
    assert len(every) == 60  # not one page: every entry the filters find


def test_a_bad_audit_filter_is_named_and_kept(client: TestClient, store: Store) -> None:
    _seed_log(store)
    sign_in(client, "admin")
    r = client.get("/ui/admin/audit?from=2026-13-01&actor=user:alice")
    assert r.status_code == 422
    assert re.search(r'id="from-error">[^<]*is not a date', r.text)
    assert 'value="2026-13-01"' in r.text and 'value="user:alice"' in r.text
    assert "<tr data-entry=" not in r.text
    r = client.get("/ui/admin/audit?from=2026-04-02&to=2026-04-01")
    assert r.status_code == 422 and 'id="to-error"' in r.text
    r = client.get("/ui/admin/audit.csv?from=2026-04-02&to=2026-04-01")
    assert r.status_code == 422 and "ends before it starts" in r.text


@pytest.mark.parametrize(
    ("role", "lands_on"),
    [
        ("admin", "/ui/admin/users"),
        ("analyst", "/ui/admin/channels"),
        ("marketer", "/ui/admin/channels"),
    ],
)
def test_the_admin_link_shows_to_every_role_with_an_admin_page_and_opens_its_first(
    client: TestClient, role: str, lands_on: str
) -> None:
    sign_in(client, role)
    page = client.get("/ui/dashboard").text
    assert 'href="/ui/admin"' in page
    r = client.get("/ui/admin", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == lands_on


def test_a_sales_rep_has_no_admin_link_and_no_admin_home(client: TestClient) -> None:
    sign_in(client, "sales_rep")
    assert 'href="/ui/admin"' not in client.get("/ui/dashboard").text
    assert client.get("/ui/admin").status_code == 403


def test_the_channels_page_shows_the_outbox_and_the_failed_contacts(
    client: TestClient, store: Store
) -> None:
    from tests.integration.web.conftest import seed_marketing

    seed_marketing(store)
    done = runs.run_program(store, "spring", actor="t")
    assert done is not None and done.contacts > 0
    with store.session() as s:
        queued = dict(
            s.execute(sa.select(Contact.channel, sa.func.count()).group_by(Contact.channel)).all()
        )
        first = s.scalars(sa.select(Contact).order_by(Contact.id).limit(1)).one()
        first.status, first.attempts, first.error = "failed", 3, "gateway said 503"
        s.execute(sa.delete(OutboxEntry).where(OutboxEntry.contact_id == first.id))
        s.commit()
        failed_id, failed_channel = first.id, first.channel
    queued[failed_channel] -= 1
    sign_in(client, "analyst")
    page = client.get("/ui/admin/channels").text
    for channel, n in queued.items():
        row = _row(page, "data-queue", channel)
        cells = re.findall(r'<td class="num">([^<]*)</td>', row)
        assert cells[0] == f"{n:,}" and cells[1] == f"{n:,}", (channel, cells)
    failed = _row(page, "data-failed", failed_id)
    assert "gateway said 503" in failed and ">3<" in failed
