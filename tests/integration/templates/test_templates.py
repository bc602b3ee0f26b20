"""Templates on both databases: saved checked, listed, previewed for real customers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tactica.domain.templates import MessageTemplate
from tactica.errors import InvalidInput, NotFound
from tactica.services import offers, templates
from tactica.services.importing import import_customers
from tactica.store.db import Store
from tactica.store.models import Response

SECRET = "template-test-secret"
CUSTOMERS = """\
id,first_name,language,msisdn,email
c1,Ana,en,+351900000001,ana@example.com
c2,李华,zh,+8613800000000,li@example.com
c3,Иван,ru,+79000000000,ivan@example.com
c4,Zoé,fr,+33600000000,zoe@example.com
"""
SMS = {
    "en": "Hi {{ customer.first_name }}, {{ offer.name }} is yours for {{ offer.price }} EUR.",
    "zh": "{{ customer.first_name }}，您好！{{ offer.name }} 现已推出。",
    "ru": "Здравствуйте, {{ customer.first_name }}! {{ offer.name }} ждёт вас.",
}
EMAIL = MessageTemplate(
    "deposit",
    "email",
    "en",
    "{{ offer.name }} for {{ customer.first_name }}",
    "Dear {{ customer.first_name }},\n\n{{ offer.description }}\n\n"
    "Unsubscribe: {{ unsubscribe_url }}\n",
)


@pytest.fixture
def ready(store: Store, tmp_path: Path) -> Store:
    """Four imported customers in four languages, two offers, an SMS template in three."""
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")
    import_customers(store, path)
    with store.session() as s:
        offers.create_offer(
            s,
            offers.OfferInput(code="GOLD", name="Gold deposit", price=Decimal("10.50")),
            actor="t",
        )
        offers.create_offer(
            s,
            offers.OfferInput(code="BASIC", name="Basic", description="A plain account"),
            actor="t",
        )
        for language, body in SMS.items():
            templates.save_template(
                s, MessageTemplate("deposit", "sms", language, None, body), actor="ana"
            )
        templates.save_template(s, EMAIL, actor="ana")
        s.commit()
    return store


def test_saved_variants_are_listed_and_shown(ready: Store) -> None:
    with ready.session() as s:
        found = templates.list_templates(s)
        assert [(t.channel, t.language) for t in found] == [
            ("email", "en"),
            ("sms", "en"),
            ("sms", "ru"),
            ("sms", "zh"),
        ]
        assert [t.language for t in templates.list_templates(s, channel="sms")] == [
            "en",
            "ru",
            "zh",
        ]
        zh = templates.template_view(templates.get_template(s, "deposit", "sms", "zh"))
        assert zh["body"] == SMS["zh"] and zh["subject"] is None
        # The text as written: the placeholders count, Chinese makes it UCS-2.
        assert zh["sms_length"]["encoding"] == "UCS-2"
        en = templates.template_view(templates.get_template(s, "deposit", "sms", "en"))
        assert en["sms_length"]["encoding"] == "GSM-7"
        assert templates.template_view(EMAIL)["sms_length"] is None
        with pytest.raises(NotFound, match=r"no template 'deposit' \(sms, de\); it has email/en"):
            templates.get_template(s, "deposit", "sms", "de")
        audit = s.execute(
            sa.text("SELECT actor, action, entity_id FROM audit_log WHERE entity_type = :t"),
            {"t": "message_template"},
        ).all()
        assert ("ana", "create", "deposit/sms/zh") in [tuple(r) for r in audit]


def test_a_page_of_variants_reads_the_start_of_each_body(ready: Store) -> None:
    with ready.session() as s:
        page = templates.template_summaries(s, limit=2, offset=1, body_chars=10)
        assert [(v["channel"], v["language"]) for v in page] == [("sms", "en"), ("sms", "ru")]
        assert page[0]["body_start"] == SMS["en"][:10] and page[0]["body_more"] is True
        assert page[0]["subject"] is None
        whole = templates.template_summaries(s, limit=1, body_chars=1000)
        assert whole[0]["body_start"] == EMAIL.body and whole[0]["body_more"] is False
        assert whole[0]["subject"] == EMAIL.subject
        # Characters, not bytes: a Chinese body is cut after ten of them.
        zh = templates.template_summaries(s, limit=1, offset=3, body_chars=10)[0]
        assert zh["body_start"] == SMS["zh"][:10]
        assert templates.variant_keys(s) == [
            ("deposit", "email", "en"),
            ("deposit", "sms", "en"),
            ("deposit", "sms", "ru"),
            ("deposit", "sms", "zh"),
        ]


def test_an_unknown_field_is_refused_when_saved_naming_template_and_line(ready: Store) -> None:
    bad = MessageTemplate(
        "welcome", "sms", "en", None, "Hi {{ customer.first_name }},\n{{ customer.frist_name }}"
    )
    with ready.session() as s:
        with pytest.raises(InvalidInput) as err:
            templates.save_template(s, bad, actor="t")
        text = str(err.value)
        assert text.startswith("template 'welcome' (sms, en): has problems:")
        assert "body, line 2: unknown customer field 'frist_name'" in text
        # A declared field (imported from the file) is fine; so are the built-ins.
        body = "{{ customer.first_name }} {{ customer.id }}"
        ok = MessageTemplate("welcome", "sms", "en", None, body)
        assert templates.save_template(s, ok, actor="t")["name"] == "welcome"
        with pytest.raises(InvalidInput, match="subject: an e-mail template needs a subject"):
            templates.save_template(s, MessageTemplate("w", "email", "en", None, "x"), actor="t")
        with pytest.raises(InvalidInput, match="name: letters, digits"):
            templates.save_template(s, MessageTemplate("a b", "sms", "en", None, "x"), actor="t")


def test_replacing_a_variant_updates_it_and_the_same_text_changes_nothing(ready: Store) -> None:
    with ready.session() as s:
        same = MessageTemplate("deposit", "sms", "en", None, SMS["en"])
        assert templates.apply_template(s, same, actor="t") == "unchanged"
        changed = MessageTemplate("deposit", "sms", "en", None, "New {{ offer.name }}")
        assert templates.apply_template(s, changed, actor="t") == "updated"
        s.commit()
        assert templates.get_template(s, "deposit", "sms", "en").body == "New {{ offer.name }}"
        templates.delete_template(s, "deposit", "sms", "en", actor="t")
        s.commit()
        with pytest.raises(NotFound):
            templates.delete_template(s, "deposit", "sms", "en", actor="t")


@pytest.mark.parametrize(
    ("customer", "language", "encoding", "body"),
    [
        ("c1", "en", "GSM-7", "Hi Ana, Basic is yours for 0.00 EUR."),
        ("c2", "zh", "UCS-2", "李华，您好！Basic 现已推出。"),
        ("c3", "ru", "UCS-2", "Здравствуйте, Иван! Basic ждёт вас."),
        # French is not there: the default language.
        ("c4", "en", "GSM-7", "Hi Zoé, Basic is yours for 0.00 EUR."),
    ],
)
def test_sms_preview_in_the_customers_language(
    ready: Store, customer: str, language: str, encoding: str, body: str
) -> None:
    with ready.session() as s:
        out = templates.preview(s, "deposit", "sms", customer, secret=SECRET)
    assert (out["language"], out["body"], out["offer"]) == (language, body, "BASIC")
    assert out["sms_length"]["encoding"] == encoding
    assert out["sms_length"]["segments"] == 1 and out["subject"] is None


def test_preview_with_another_offer_and_language(ready: Store) -> None:
    with ready.session() as s:
        out = templates.preview(s, "deposit", "sms", "c1", offer_code="GOLD", language="ru")
        assert out["body"] == "Здравствуйте, Ana! Gold deposit ждёт вас."
        with pytest.raises(NotFound, match="no offer 'NOPE'"):
            templates.preview(s, "deposit", "sms", "c1", offer_code="NOPE")
        with pytest.raises(NotFound, match="no customer 'zz'"):
            templates.preview(s, "deposit", "sms", "zz")
        with pytest.raises(NotFound, match="template 'deposit' has no phone variant"):
            templates.preview(s, "deposit", "phone", "c1")


def test_long_sms_previews_count_segments_gsm7_and_ucs2(ready: Store) -> None:
    with ready.session() as s:
        gsm = "{{ customer.first_name }} " + "x" * 200
        ucs = "{{ customer.first_name }} " + "я" * 70
        for lang, body in (("en", gsm), ("ru", ucs)):
            templates.save_template(s, MessageTemplate("long", "sms", lang, None, body), actor="t")
        s.commit()
        gsm_out = templates.preview(s, "long", "sms", "c1")["sms_length"]
        ucs_out = templates.preview(s, "long", "sms", "c3")["sms_length"]
    # "Ana " + 200 = 204 septets: two segments of 153.
    assert gsm_out == {
        "encoding": "GSM-7",
        "units": 204,
        "segments": 2,
        "per_segment": 153,
        "remaining": 102,
    }
    # "Иван " + 70 = 75 UTF-16 units: two segments of 67.
    assert (ucs_out["encoding"], ucs_out["units"], ucs_out["segments"]) == ("UCS-2", 75, 2)


def test_email_preview_has_a_real_signed_unsubscribe_link(ready: Store) -> None:
    with ready.session() as s:
        out = templates.preview(
            s, "deposit", "email", "c1", secret=SECRET, base_url="https://go.example.com/"
        )
        assert out["subject"] == "Basic for Ana"
        link = out["unsubscribe_url"]
        assert link.startswith("https://go.example.com/unsubscribe/")
        assert out["body"] == f"Dear Ana,\n\nA plain account\n\nUnsubscribe: {link}"
        with pytest.raises(InvalidInput, match="needs the key that signs unsubscribe links"):
            templates.preview(s, "deposit", "email", "c1")


def test_a_template_that_needs_an_offer_says_so_when_there_is_none(store: Store) -> None:
    with store.session() as s:
        s.execute(sa.text("INSERT INTO customers (id, language) VALUES ('c1', 'en')"))
        templates.save_template(
            s, MessageTemplate("t", "sms", "en", None, "{{ offer.name }}"), actor="t"
        )
        with pytest.raises(InvalidInput, match="there is no offer yet"):
            templates.preview(s, "t", "sms", "c1")


def test_a_preview_fills_tracked_links_in_as_long_as_real_ones(ready: Store) -> None:
    from tactica.services.links import follow_link

    body = 'Gold for you: {{ track("https://bank.example/gold") }}'
    with ready.session() as s:
        templates.save_template(s, MessageTemplate("link", "sms", "en", None, body), actor="t")
        s.commit()
        out = templates.preview(s, "link", "sms", "c1", secret=SECRET)
    link = out["body"].split(": ", 1)[1]
    assert link.startswith("http://127.0.0.1:8000/r/") and out["sms_length"]["units"] > 60
    # It goes where it says, and counts as nobody's click.
    assert follow_link(ready, link.rsplit("/", 1)[1], secret=SECRET) == "https://bank.example/gold"
    with ready.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Response)) == 0
