"""`tactica responses classify`: a marketer tests how a reply is read."""

from __future__ import annotations

from tests.conftest import Tactica


def test_classify_prints_outcome_language_and_rule(tactica: Tactica) -> None:
    r = tactica("responses", "classify", "Ｙｅｓ please!")
    assert r.code == 0, r.err
    assert "outcome: order" in r.out and "language: en (detected)" in r.out
    assert "rule: en-order-yes" in r.out
    r = tactica("responses", "classify", "расскажите подробнее", "--lang", "ru")
    assert "outcome: interest" in r.out and "language: ru\n" in r.out
    r = tactica("responses", "classify", "who are you")
    assert "outcome: other" in r.out and "rule: none fired" in r.out
    bad = tactica("responses", "classify", "oui", "--lang", "fr")
    assert bad.code == 2 and "--lang: no rules for 'fr'" in bad.err
