"""Message templates: static checks, sandboxed rendering and choosing by language."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tactica.domain.schema import CHANNELS, validate_field_name
from tactica.domain.templates import (
    OFFER_FIELDS,
    MessageTemplate,
    RenderedMessage,
    TemplateRenderError,
    compile_template,
    pick_template,
    template_problems,
)

FIELDS = ("first_name", "email", "msisdn", "region", "items")
OFFER = {
    "code": "GOLD10",
    "name": "Gold plan",
    "product": "gold",
    "price": 10,
    "value": 2.5,
    "description": "More data",
}
CUSTOMER = {
    "id": "c1",
    "timezone": "Europe/Lisbon",
    "language": "en",
    "first_name": "Ana",
    "email": "ana@example.com",
    "msisdn": "+351900000000",
    "region": None,
    "items": 3,
}


def sms(body: str, *, language: str = "en", name: str = "t") -> MessageTemplate:
    return MessageTemplate(name, "sms", language, None, body)


def email(subject: str | None, body: str, *, language: str = "en") -> MessageTemplate:
    return MessageTemplate("t", "email", language, subject, body)


def render(t: MessageTemplate, customer: dict[str, object] | None = None) -> RenderedMessage:
    return compile_template(t).render(CUSTOMER if customer is None else customer, OFFER, "spring")


# --------------------------------------------------------------------------- checking


def test_a_good_template_has_no_problems() -> None:
    body = "Hi {{ customer.first_name }}, {{ offer.name }} for {{ offer.price }} ({{ campaign }})"
    assert template_problems(sms(body), FIELDS) == []
    assert (
        template_problems(email("For {{ customer.id }}", body + " {{ unsubscribe_url }}"), FIELDS)
        == []
    )


def test_syntax_error_names_place_and_line() -> None:
    assert template_problems(sms("Hello\n{{ customer.first_name }"), FIELDS) == [
        "body, line 2: unexpected '}'"
    ]
    problems = template_problems(email("{% if %}", "ok"), FIELDS)
    assert len(problems) == 1
    assert problems[0].startswith("subject, line 1: ")


def test_unknown_customer_field_with_line_and_the_known_fields() -> None:
    body = "Hi\n\n{{ customer.frist_name }}"
    assert template_problems(sms(body), FIELDS) == [
        "body, line 3: unknown customer field 'frist_name'; customer fields are: "
        "email, first_name, id, items, language, msisdn, region, timezone"
    ]


def test_unknown_field_through_a_constant_subscript() -> None:
    (problem,) = template_problems(sms('{{ customer["nope"] }}'), FIELDS)
    assert problem.startswith("body, line 1: unknown customer field 'nope'")
    assert template_problems(sms('{{ customer["first_name"] }}'), FIELDS) == []


def test_unknown_offer_field() -> None:
    assert template_problems(sms("x\n{{ offer.nme }}"), FIELDS) == [
        "body, line 2: unknown offer field 'nme'; offer fields are: "
        + ", ".join(sorted(OFFER_FIELDS))
    ]


def test_fields_in_blocks_and_filters_are_checked_too() -> None:
    body = (
        "{% if customer.region == 'north' %}\n"
        "{{ customer.first_name | upper }}\n"
        "{% else %}{{ customer.nickname | default('you') }}{% endif %}"
    )
    assert template_problems(sms(body), FIELDS) == [
        "body, line 3: unknown customer field 'nickname'; customer fields are: "
        "email, first_name, id, items, language, msisdn, region, timezone"
    ]


def test_unknown_name_with_line() -> None:
    assert template_problems(email("Hi {{ foo }}", "{{ campaign }}\n{{ bar }}"), FIELDS) == [
        "subject, line 1: unknown name 'foo'; "
        "a template may use customer, offer, campaign, unsubscribe_url",
        "body, line 2: unknown name 'bar'; "
        "a template may use customer, offer, campaign, unsubscribe_url",
    ]


def test_unsubscribe_url_is_for_email_only() -> None:
    (problem,) = template_problems(sms("Stop: {{ unsubscribe_url }}"), FIELDS)
    assert problem.startswith(
        "body, line 1: unknown name 'unsubscribe_url'; a template may use customer, offer, campaign"
    )


def test_jinja_globals_are_not_given() -> None:
    (problem,) = template_problems(sms("{% for i in range(3) %}{{ i }}{% endfor %}"), FIELDS)
    assert "unknown name 'range'" in problem


def test_loop_variables_and_set_are_fine() -> None:
    body = (
        "{% set greeting = 'Hi ' ~ customer.first_name %}{{ greeting }}"
        "{% for word in offer.description.split() %}{{ loop.index }}{{ word }}{% endfor %}"
    )
    assert template_problems(sms(body), FIELDS) == []


def test_whole_customer_or_offer_is_refused() -> None:
    problems = template_problems(sms("{{ customer }}\n{{ offer | string }}"), FIELDS)
    assert problems == [
        "body, line 1: use one customer field, such as customer.first_name, not the whole customer",
        "body, line 2: use one offer field, such as offer.name, not the whole offer",
    ]


def test_dynamic_field_names_and_assigning_given_names_are_refused() -> None:
    problems = template_problems(
        sms("{{ customer[campaign] }}\n{% set offer = 1 %}{{ offer }}"), FIELDS
    )
    assert (
        "body, line 1: customer[...] needs a field name written out, such as customer.first_name"
        in problems
    )
    assert "body, line 2: 'offer' is given to the template and cannot be assigned" in problems


def test_include_import_and_extends_are_refused() -> None:
    for body in ("{% include 'x' %}", "{% import 'x' as y %}", "{% extends 'x' %}"):
        assert "body, line 1: a template cannot include, import or extend another" in (
            template_problems(sms(body), FIELDS)
        )


@pytest.mark.parametrize(
    "body",
    [
        "{{ customer.__class__.__mro__ }}",
        "{{ offer.name.__class__.__mro__[1].__subclasses__() }}",
        "{{ campaign.__class__ }}",
        "{{ customer['__class__'] }}",
    ],
)
def test_reaching_python_internals_is_a_problem(body: str) -> None:
    problems = template_problems(sms(body), FIELDS)
    assert any("__class__" in p for p in problems), problems


def test_subject_rules_per_channel() -> None:
    assert template_problems(email(None, "x"), FIELDS) == [
        "subject: an e-mail template needs a subject"
    ]
    assert template_problems(email("  ", "x"), FIELDS) == ["subject: is empty"]
    for channel in CHANNELS:
        if channel != "email":
            t = MessageTemplate("t", channel, "en", "Hello", "x")
            assert template_problems(t, FIELDS) == [
                f"subject: only e-mail has a subject; leave it out (None) for {channel}"
            ]
            assert template_problems(MessageTemplate("t", channel, "en", None, "x"), FIELDS) == []


def test_empty_body_channel_language_and_name() -> None:
    t = MessageTemplate(" ", "fax", "EN_us", None, "  \n")
    assert template_problems(t, FIELDS) == [
        "name: is required",
        "channel: unknown channel 'fax'; channels are: " + ", ".join(CHANNELS),
        "language: 'EN_us' must be a short lower-case code such as en, zh or pt-br",
        "body: is empty",
    ]


@pytest.mark.parametrize("language", ["en", "zh", "ru", "pt-br", "zh-hans", "yue", "es-419"])
def test_good_language_codes(language: str) -> None:
    assert template_problems(sms("x", language=language), FIELDS) == []


@pytest.mark.parametrize("language", ["", "e", "EN", "english", "pt_br", "pt-", "pt-b", "zh-Hans"])
def test_bad_language_codes(language: str) -> None:
    (problem,) = template_problems(sms("x", language=language), FIELDS)
    assert problem.startswith("language: ")


# --------------------------------------------------------------------------- rendering


def test_renders_english_chinese_and_russian() -> None:
    templates = [
        email("{{ offer.name }} for you", "Hi {{ customer.first_name }}!", language="en"),
        email(
            "{{ customer.first_name }}，您好",
            "您好 {{ customer.first_name }}：{{ offer.name }}",
            language="zh",
        ),
        email(
            "Привет, {{ customer.first_name }}",
            "Здравствуйте, {{ customer.first_name }}!",
            language="ru",
        ),
    ]
    customer = {**CUSTOMER, "first_name": "Анна"}
    got = [render(t, customer) for t in templates]
    assert got == [
        RenderedMessage("Gold plan for you", "Hi Анна!"),
        RenderedMessage("Анна，您好", "您好 Анна：Gold plan"),
        RenderedMessage("Привет, Анна", "Здравствуйте, Анна!"),
    ]
    chinese = {**CUSTOMER, "first_name": "王芳"}
    assert render(templates[1], chinese).body == "您好 王芳：Gold plan"


def test_sms_has_no_subject_and_no_autoescape() -> None:
    got = render(sms("<b>{{ offer.name }}</b> & {{ customer.first_name }}"))
    assert got == RenderedMessage(None, "<b>Gold plan</b> & Ana")


def test_none_renders_as_empty_string() -> None:
    assert render(sms("[{{ customer.region }}]")).body == "[]"


def test_a_field_named_like_a_dict_method_is_the_field() -> None:
    assert render(sms("{{ customer.items }}")).body == "3"


def test_the_callers_mapping_cannot_be_changed() -> None:
    customer = dict(CUSTOMER)
    with pytest.raises(TemplateRenderError):
        render(sms("{{ customer.clear() }}"), customer)
    assert customer == CUSTOMER


def test_missing_field_is_strictly_undefined() -> None:
    t = MessageTemplate("welcome", "sms", "ru", None, "Hi {{ customer.first_name }}")
    with pytest.raises(TemplateRenderError) as info:
        render(t, {"id": "c1"})
    message = str(info.value)
    assert "'welcome'" in message and "sms" in message and "ru" in message
    assert "customer has no field 'first_name'" in message


def test_defined_test_works_with_strict_undefined() -> None:
    t = sms("{% if customer.nickname is defined %}x{% else %}Hi{% endif %}")
    assert render(t).body == "Hi"


@pytest.mark.parametrize(
    "body",
    [
        "{{ customer.__class__.__mro__ }}",
        "{{ customer['__class__'] }}",
        "{{ offer.name.__class__.__mro__[1].__subclasses__() }}",
        "{{ campaign.__class__ }}",
        "{{ campaign.format.__globals__ }}",
    ],
)
def test_sandbox_blocks_internals_at_render_time(body: str) -> None:
    with pytest.raises(TemplateRenderError, match="'t' \\(sms, en\\): body: SecurityError"):
        render(sms(body))


def test_email_gets_unsubscribe_url_and_needs_one_if_used() -> None:
    t = email("News", "Bye: {{ unsubscribe_url }}")
    compiled = compile_template(t)
    got = compiled.render(CUSTOMER, OFFER, "spring", unsubscribe_url="https://u/x")
    assert got == RenderedMessage("News", "Bye: https://u/x")
    with pytest.raises(TemplateRenderError, match="unsubscribe_url"):
        compiled.render(CUSTOMER, OFFER, "spring")


def test_sms_never_sees_unsubscribe_url() -> None:
    compiled = compile_template(sms("{{ unsubscribe_url }}"))
    with pytest.raises(TemplateRenderError):
        compiled.render(CUSTOMER, OFFER, "spring", unsubscribe_url="https://u/x")


def test_subject_is_one_line() -> None:
    t = email("Hi {{ customer.first_name }}", "x")
    got = compile_template(t).render({**CUSTOMER, "first_name": "Ana\r\nBcc: x@y"}, OFFER, "c")
    assert got.subject == "Hi Ana Bcc: x@y"


def test_trailing_newline_of_the_source_is_dropped() -> None:
    assert render(sms("Hi\n")).body == "Hi"


def test_other_failures_are_render_errors() -> None:
    with pytest.raises(TemplateRenderError, match="TypeError"):
        render(sms("{{ offer.price + offer.name }}"))


def test_compile_reports_syntax_errors_as_render_errors() -> None:
    with pytest.raises(TemplateRenderError, match=r"'t' \(sms, en\): body, line 1: "):
        compile_template(sms("{{ x"))


def test_a_compiled_template_renders_many_messages() -> None:
    compiled = compile_template(sms("{{ customer.id }}:{{ offer.code }}"))
    bodies = [compiled.render({"id": f"c{i}"}, OFFER, "c").body for i in range(100)]
    assert bodies == [f"c{i}:GOLD10" for i in range(100)]


# --------------------------------------------------------------------------- property

_FIELD_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(
    lambda n: validate_field_name(n) is None
)


@given(
    st.dictionaries(
        _FIELD_NAME, st.one_of(st.text(), st.integers(), st.none()), min_size=1, max_size=6
    )
)
def test_any_schema_field_can_be_used_and_renders_its_value(values: dict[str, object]) -> None:
    names = sorted(values)
    body = "\n".join(f"{{{{ customer.{n} }}}}|{{{{ customer['{n}'] }}}}" for n in names)
    t = sms(body)
    assert template_problems(t, names) == []
    got = render(t, values).body
    shown = {n: "" if v is None else str(v) for n, v in values.items()}
    assert got == "\n".join(f"{shown[n]}|{shown[n]}" for n in names)


# --------------------------------------------------------------------------- choosing

EN = sms("x", language="en", name="en")
PT = sms("x", language="pt", name="pt")
PT_BR = sms("x", language="pt-br", name="pt-br")
ZH = sms("x", language="zh", name="zh")
RU = sms("x", language="ru", name="ru")
EMAIL_PT = email("s", "x", language="pt")


@pytest.mark.parametrize(
    ("templates", "language", "expected"),
    [
        ([EN, PT, PT_BR], "pt-br", PT_BR),
        ([EN, PT, PT_BR], "PT_BR", PT_BR),
        ([EN, PT], "pt-br", PT),
        ([EN, PT_BR], "pt", PT_BR),
        ([EN, PT_BR], "pt-pt", PT_BR),
        ([EN, ZH, RU], "ru", RU),
        ([EN, ZH, RU], "de", EN),
        ([EN, ZH, RU], None, EN),
        ([ZH, RU], "de", RU),
        ([RU, ZH], "de", RU),
        ([EMAIL_PT, EN], "pt", EN),
    ],
)
def test_pick_template(
    templates: list[MessageTemplate], language: str | None, expected: MessageTemplate
) -> None:
    assert pick_template(templates, "sms", language) is expected


def test_pick_template_other_default_and_no_template() -> None:
    assert pick_template([EN, RU, ZH], "sms", "de", default_language="zh") is ZH
    assert pick_template([EN, RU], "email", "en") is None
    assert pick_template([], "sms", "en") is None
    assert pick_template([EMAIL_PT, EN], "email", "de") is EMAIL_PT


def test_pick_template_does_not_depend_on_order() -> None:
    a = sms("x", language="ru", name="a")
    b = sms("x", language="ru", name="b")
    assert pick_template([b, a], "sms", "ru") is a
    assert pick_template([a, b], "sms", "ru") is a
