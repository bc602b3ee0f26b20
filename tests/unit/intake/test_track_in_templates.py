"""Templates may write ``{{ track("https://...") }}``: checked when saved, filled in when sent."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tactica.domain.templates import (
    MessageTemplate,
    TemplateRenderError,
    compile_template,
    template_problems,
)


def sms(body: str) -> MessageTemplate:
    return MessageTemplate("gold", "sms", "en", None, body)


def email(body: str) -> MessageTemplate:
    return MessageTemplate("gold", "email", "en", "Gold", body)


@pytest.mark.parametrize("make", [sms, email])
def test_a_tracked_link_is_accepted_on_every_channel(
    make: Callable[[str], MessageTemplate],
) -> None:
    body = 'Gold is yours: {{ track("https://shop.example/gold?from=sms&x=1") }}'
    assert template_problems(make(body), []) == []


def test_an_address_built_from_fields_is_accepted() -> None:
    body = '{{ track("https://shop.example/c/" ~ customer.id) }}'
    assert template_problems(sms(body), []) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{{ track }}", 'track is a function: write track("https://shop.example/offer")'),
        (
            '{{ track("shop.example/gold") }}',
            "track needs an http:// or https:// address, got 'shop.example/gold'",
        ),
        (
            '{{ track("javascript:alert(1)") }}',
            "track needs an http:// or https:// address, got 'javascript:alert(1)'",
        ),
        (
            '{{ track("https://a.example", "https://b.example") }}',
            'track takes one web address, such as track("https://shop.example/offer")',
        ),
        ("{% set track = 1 %}", "'track' is given to the template and cannot be assigned"),
    ],
)
def test_misuses_of_track_are_named_with_their_line(body: str, problem: str) -> None:
    assert template_problems(sms("Hello\n" + body), []) == [f"body, line 2: {problem}"]


def test_rendering_puts_the_callers_link_in_place_of_each_address() -> None:
    t = compile_template(
        sms('A {{ track("https://shop.example/a") }} B {{ track("https://shop.example/b") }}')
    )
    made: list[str] = []

    def maker(url: str) -> str:
        made.append(url)
        return f"https://mkt.example/r/{len(made)}"

    got = t.render({"id": "c1"}, {}, "autumn", track=maker)
    assert got.body == "A https://mkt.example/r/1 B https://mkt.example/r/2"
    assert made == ["https://shop.example/a", "https://shop.example/b"]


def test_without_a_link_maker_a_tracked_template_does_not_render() -> None:
    t = compile_template(sms('Go: {{ track("https://shop.example/a") }}'))
    with pytest.raises(TemplateRenderError, match=r"track.*no link maker"):
        t.render({"id": "c1"}, {}, "autumn")
    # A template without links renders as before.
    assert compile_template(sms("Hi")).render({"id": "c1"}, {}, "autumn").body == "Hi"


def test_an_address_from_a_field_that_is_not_a_web_address_fails_that_message() -> None:
    t = compile_template(sms("{{ track(customer.site) }}"))
    with pytest.raises(TemplateRenderError, match=r"http:// or https://"):
        t.render({"id": "c1", "site": "ftp://x"}, {}, "autumn", track=lambda u: u)
