"""The templates pages: the list, write and replace a variant, preview it, delete it."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.domain.templates import MessageTemplate
from tactica.services import templates
from tactica.store.db import Store
from tactica.store.models import AuditEntry, Offer
from tactica.store.models import MessageTemplate as TemplateRow
from tests.integration.web.conftest import csrf_of, post_form, sign_in

SMS = "Hi {{ customer.id }}, at {{ customer.age }} you qualify for {{ offer.name }}."
NEW = {"name": "welcome", "channel": "sms", "language": "en", "subject": "", "body": SMS}


@pytest.fixture
def written(marketing: Store) -> Store:
    """The marketing store with a 'gold' template: an SMS and an e-mail variant."""
    with marketing.session() as s:
        for t in (
            MessageTemplate(
                "gold", "sms", "en", None, "Gold for {{ customer.id }}: {{ offer.name }}"
            ),
            MessageTemplate(
                "gold",
                "email",
                "en",
                "{{ offer.name }} for you",
                "Dear {{ customer.id }},\n\nyour balance is {{ customer.balance }}.\n\n"
                "Stop: {{ unsubscribe_url }}",
            ),
        ):
            templates.save_template(s, t, actor="t")
        s.commit()
    return marketing


def _variants(store: Store) -> dict[str, tuple[str | None, str]]:
    with store.session() as s:
        return {
            f"{r.name}/{r.channel}/{r.language}": (r.subject, r.body)
            for r in s.scalars(sa.select(TemplateRow))
        }


def _error(page: str, field: str) -> str:
    found = re.search(rf'class="error" id="{field}-error">(.*?)</(?:div|span)>', page, re.S)
    assert found is not None, page
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


def _preview(client: TestClient, **asked: str) -> tuple[int, str]:
    r = client.get("/ui/templates/preview", params=asked)
    return r.status_code, r.text


def _shown(page: str, element: str) -> str:
    found = re.search(rf'id="{element}"[^>]*>(.*?)</', page, re.S)
    assert found is not None, page
    return html.unescape(found.group(1))


def test_readers_see_every_variant_and_preview_but_get_no_forms(
    client: TestClient, written: Store
) -> None:
    sign_in(client, "analyst")
    page = client.get("/ui/templates").text
    assert 'href="/ui/templates"' in page  # in the nav bar
    row = re.search(r'<tr data-variant="gold/email/en">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "{{ offer.name }} for you" in html.unescape(row.group(1))
    assert "Dear {{ customer.id }}," in html.unescape(row.group(1))
    assert "Write a variant" not in page and 'name="body"' not in page
    one = client.get("/ui/templates/gold/email/en").text
    assert "Delete variant" not in one and "Stop: {{ unsubscribe_url }}" in html.unescape(one)
    status, shown = _preview(client, template="gold/sms", customer_id="c07", offer="SAVER")
    assert status == 200 and _shown(shown, "preview-body") == "Gold for c07: Savings account"
    token = csrf_of(page)
    assert client.post("/ui/templates", data={**NEW, "csrf": token}).status_code == 403
    r = client.post("/ui/templates/gold/sms/en", data={"body": "x", "csrf": token})
    assert r.status_code == 403
    assert client.post("/ui/templates/gold/sms/en/delete", data={"csrf": token}).status_code == 403
    assert len(_variants(written)) == 2


def test_a_sales_rep_may_not_see_templates(client: TestClient, written: Store) -> None:
    sign_in(client, "sales_rep")
    dashboard = client.get("/ui/dashboard").text
    assert 'href="/ui/templates"' not in dashboard
    assert client.get("/ui/templates").status_code == 403
    assert client.get("/ui/templates/gold/sms/en").status_code == 403
    assert _preview(client, template="gold/sms", customer_id="c07")[0] == 403
    token = csrf_of(dashboard)
    assert client.post("/ui/templates", data={**NEW, "csrf": token}).status_code == 403
    assert client.post("/ui/templates/gold/sms/en/delete", data={"csrf": token}).status_code == 403
    assert len(_variants(written)) == 2


def test_a_marketer_writes_an_sms_variant_and_previews_it_for_a_customer(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    body = "Hi {{ customer.id }},\r\nat {{ customer.age }} you qualify for {{ offer.name }}."
    r = post_form(client, "/ui/templates", "/ui/templates", {**NEW, "body": body})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/ui/templates/welcome/sms/en?saved=created"
    # The browser's CRLF is saved as one line break: an SMS counts every character.
    assert _variants(marketing)["welcome/sms/en"] == (None, body.replace("\r\n", "\n"))
    page = client.get(r.headers["location"]).text
    assert 'role="status">Variant created.' in page
    with marketing.session() as s:
        entry = s.scalars(
            sa.select(AuditEntry).where(AuditEntry.entity_id == "welcome/sms/en")
        ).one()
        assert entry.actor == "user:marketer" and entry.action == "create"

    # c07 is 27: the message carries their own values and the offer chosen.
    status, shown = _preview(client, template="welcome/sms", customer_id="c07", offer="SAVER")
    assert status == 200, shown
    text = "Hi c07,\nat 27 you qualify for Savings account."
    assert _shown(shown, "preview-body") == text
    length = re.search(r'id="sms-length" data-segments="(\d+)">(\d+) GSM-7 units', shown)
    assert length is not None and length.groups() == ("1", str(len(text)))
    # Without an offer chosen, the first by code fills it in.
    _, shown = _preview(client, template="welcome/sms", customer_id="c30")
    assert _shown(shown, "preview-body") == "Hi c30,\nat 50 you qualify for Gold card."


def test_an_email_preview_has_its_subject_and_the_customers_real_unsubscribe_link(
    client: TestClient, written: Store
) -> None:
    sign_in(client, "marketer")
    status, shown = _preview(client, template="gold/email", customer_id="c02", offer="GOLD")
    assert status == 200
    assert _shown(shown, "preview-subject") == "Gold card for you"
    body = _shown(shown, "preview-body")
    assert body.startswith("Dear c02,\n\nyour balance is 400.0.")
    link = _shown(shown, "unsubscribe-url")
    assert link.startswith("http://127.0.0.1:8000/") and link in body
    assert 'id="sms-length"' not in shown


@pytest.mark.parametrize(
    ("asked", "field", "says"),
    [
        ({"template": "gold/sms", "customer_id": "nobody"}, "customer_id", "no customer 'nobody'"),
        ({"template": "gold/sms", "customer_id": ""}, "customer_id", "the id of the customer"),
        ({"template": "gold/push", "customer_id": "c01"}, "template", "choose a template"),
        ({"template": "", "customer_id": "c01"}, "template", "choose a template"),
        ({"template": "gold/sms", "customer_id": "c01", "offer": "NOPE"}, "offer", "no offer"),
    ],
)
def test_a_preview_problem_is_shown_next_to_its_field(
    client: TestClient, written: Store, asked: dict[str, str], field: str, says: str
) -> None:
    sign_in(client, "analyst")
    status, shown = _preview(client, **asked)
    assert status == 422
    assert says in _error(shown, field)
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', shown)
    assert 'id="preview-body"' not in shown
    # What was asked is kept.
    if asked["customer_id"]:
        assert f'value="{asked["customer_id"]}"' in shown


def test_a_field_the_preview_cannot_fill_is_named(client: TestClient, written: Store) -> None:
    with written.session() as s:
        s.execute(sa.delete(Offer))
        s.commit()
    sign_in(client, "marketer")
    status, shown = _preview(client, template="gold/sms", customer_id="c01")
    assert status == 422
    assert "no offer yet" in _error(shown, "offer")


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        (
            {"body": "Hi {{ customer.id }},\n{{ customer.frist_name }}"},
            "body",
            "line 2: unknown customer field 'frist_name'",
        ),
        ({"body": "Hi {{ customer.id }"}, "body", "line 1:"),
        ({"body": ""}, "body", "is empty"),
        ({"subject": "Hello"}, "subject", "only e-mail has a subject"),
        ({"channel": "email"}, "subject", "an e-mail template needs a subject"),
        ({"channel": "fax"}, "channel", "unknown channel 'fax'"),
        ({"name": "bad name"}, "name", "letters, digits"),
        ({"language": "English"}, "language", "short lower-case code"),
        ({"body": "x" * 100_001}, "body", "at most 100,000 characters"),
    ],
)
def test_a_refused_variant_names_each_problem_keeps_what_was_typed_and_saves_nothing(
    client: TestClient, written: Store, changes: dict[str, str], field: str, says: str
) -> None:
    sign_in(client, "marketer")
    before = _variants(written)
    typed = {**NEW, **changes}
    r = post_form(client, "/ui/templates", "/ui/templates", typed)
    assert r.status_code == 422, r.text
    assert says in _error(r.text, field)
    assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"', r.text)
    if field != "body" or len(typed["body"]) < 1000:
        assert f">{html.escape(typed['body'], quote=False)}</textarea>" in r.text.replace(
            "&#39;", "'"
        ).replace("&#34;", '"')
    assert f'value="{html.escape(typed["subject"])}"' in r.text
    assert _variants(written) == before


def test_every_problem_is_shown_at_once_next_to_its_field(
    client: TestClient, written: Store
) -> None:
    sign_in(client, "marketer")
    before = _variants(written)
    typed = {
        **NEW,
        "subject": "Hi",
        "body": "{{ customer.frist_name }}\n{{ offer.colour }}\n{{ unsubscribe_url }}",
    }
    r = post_form(client, "/ui/templates", "/ui/templates", typed)
    assert r.status_code == 422
    assert "only e-mail has a subject" in _error(r.text, "subject")
    body = _error(r.text, "body")
    assert "line 1: unknown customer field 'frist_name'" in body
    assert "line 2: unknown offer field 'colour'" in body
    assert "line 3: unknown name 'unsubscribe_url'" in body
    assert _variants(written) == before


def test_a_variant_is_replaced_on_its_page_or_from_the_list_and_deleted(
    client: TestClient, written: Store
) -> None:
    sign_in(client, "marketer")
    page = client.get("/ui/templates/gold/sms/en").text
    assert "Gold for {{ customer.id }}: {{ offer.name }}</textarea>" in html.unescape(page)
    r = post_form(
        client,
        "/ui/templates/gold/sms/en",
        "/ui/templates/gold/sms/en",
        {"subject": "", "body": "Gold, {{ customer.id }}!"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/templates/gold/sms/en?saved=saved"
    assert _variants(written)["gold/sms/en"] == (None, "Gold, {{ customer.id }}!")
    # A refused change keeps what was typed and leaves the variant as it was.
    r = post_form(
        client,
        "/ui/templates/gold/sms/en",
        "/ui/templates/gold/sms/en",
        {"subject": "", "body": "Gold, {{ customer.nme }}!"},
    )
    assert r.status_code == 422 and "unknown customer field 'nme'" in _error(r.text, "body")
    assert "Gold, {{ customer.nme }}!</textarea>" in html.unescape(r.text)
    assert _variants(written)["gold/sms/en"] == (None, "Gold, {{ customer.id }}!")
    # The list's form with the same name, channel and language replaces it too.
    r = post_form(client, "/ui/templates", "/ui/templates", {**NEW, "name": "gold"})
    assert r.headers["location"] == "/ui/templates/gold/sms/en?saved=saved"
    assert _variants(written)["gold/sms/en"] == (None, SMS)

    r = post_form(client, "/ui/templates/gold/sms/en", "/ui/templates/gold/sms/en/delete", {})
    assert r.status_code == 303
    assert "Variant gold (sms, en) deleted." in client.get(r.headers["location"]).text
    assert set(_variants(written)) == {"gold/email/en"}
    assert client.get("/ui/templates/gold/sms/en").status_code == 404
    token = csrf_of(client.get("/ui/templates").text)
    r = client.post("/ui/templates/gold/sms/en", data={"body": "x", "csrf": token})
    assert r.status_code == 404 and "gold/sms/en" not in _variants(written)


def test_a_forged_form_is_refused(client: TestClient, written: Store) -> None:
    sign_in(client, "marketer")
    assert client.post("/ui/templates", data={**NEW, "csrf": "forged"}).status_code == 403
    r = client.post("/ui/templates/gold/sms/en/delete", data={"csrf": "forged"})
    assert r.status_code == 403
    assert len(_variants(written)) == 2


def test_the_list_goes_fifty_variants_a_page(client: TestClient, marketing: Store) -> None:
    with marketing.session() as s:
        for i in range(55):
            t = MessageTemplate(f"t{i:02d}", "sms", "en", None, "x" * 200)
            templates.save_template(s, t, actor="t")
        s.commit()
    sign_in(client, "marketer")
    first = client.get("/ui/templates").text
    assert first.count("<tr data-variant=") == 50 and 'rel="next"' in first
    # Only the start of a body is shown.
    assert "x" * 80 + "…" in first and "x" * 81 not in first
    second = client.get("/ui/templates?page=2").text
    assert second.count("<tr data-variant=") == 5 and 'data-variant="t54/sms/en"' in second
