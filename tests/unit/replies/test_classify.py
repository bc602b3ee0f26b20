"""Replies as customers really type them, in English, Chinese and Russian."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tactica.domain.replies import (
    DEFAULT_RULES,
    ReplyOutcome,
    ReplyRule,
    classify,
    detect_language,
    normalise,
)

ORDER, INTEREST, OPT_OUT, OTHER = (
    ReplyOutcome.ORDER,
    ReplyOutcome.INTEREST,
    ReplyOutcome.OPT_OUT,
    ReplyOutcome.OTHER,
)


@pytest.mark.parametrize(
    ("reply", "outcome", "language"),
    [
        ("YES", ORDER, "en"),
        ("  yes!! ", ORDER, "en"),
        ("Ｙｅｓ", ORDER, "en"),  # full-width
        ("ok, sign me up", ORDER, "en"),
        ("Tell me more please", INTEREST, "en"),
        ("not interested", OTHER, "en"),
        ("STOP", OPT_OUT, "en"),
        ("Stop. Yes I mean it", OPT_OUT, "en"),  # an opt-out always wins
        ("unsubscribe me", OPT_OUT, "en"),
        ("who is this?", OTHER, "en"),
        ("是", ORDER, "zh"),
        ("不是", OTHER, "zh"),  # one character only as the whole reply
        ("我要办理", ORDER, "zh"),
        ("我想了解一下详情", INTEREST, "zh"),
        ("不想了解", OTHER, "zh"),
        ("退订", OPT_OUT, "zh"),
        ("退訂", OPT_OUT, "zh"),  # traditional characters
        ("请不要再发了！", OPT_OUT, "zh"),
        ("TD", OPT_OUT, "en"),  # "reply TD to unsubscribe", whatever the language
        ("Да", ORDER, "ru"),
        ("ДА!", ORDER, "ru"),
        ("Хочу подключить", ORDER, "ru"),
        ("расскажите подробнее", INTEREST, "ru"),
        ("не интересно", OTHER, "ru"),
        ("СТОП", OPT_OUT, "ru"),
        ("CTOП", OPT_OUT, "ru"),  # Latin C and T typed among Cyrillic letters
        ("Отписаться", OPT_OUT, "ru"),
        ("STOP пожалуйста", OPT_OUT, "ru"),
    ],
)
def test_default_rules(reply: str, outcome: ReplyOutcome, language: str) -> None:
    got = classify(reply, DEFAULT_RULES)
    assert (got.outcome, got.language) == (outcome, language), got
    if outcome is OTHER:
        assert got.rule is None and got.confidence == 0.0
    else:
        assert got.rule is not None and 0.6 <= got.confidence <= 1.0


def test_the_decision_keeps_the_rule_and_a_confidence() -> None:
    exact = classify("STOP", DEFAULT_RULES)
    assert exact.rule in ("en-opt_out-stop", "any-stop") and exact.confidence == 1.0
    within = classify("please stop texting", DEFAULT_RULES)
    assert within.outcome is OPT_OUT and within.confidence == 0.8
    torn = classify("yes but stop", DEFAULT_RULES)
    assert torn.outcome is OPT_OUT and torn.confidence == 0.6


def test_a_given_language_narrows_the_rules() -> None:
    assert classify("да", DEFAULT_RULES, language="en").outcome is OTHER
    assert classify("да", DEFAULT_RULES, language="ru").outcome is ORDER


def test_normalisation() -> None:
    assert normalise("  ＹＥＳ！！ ") == "yes"
    assert normalise("CTOП") == "стоп"
    assert normalise("STOР") == "stop"  # Cyrillic Р in a Latin word
    assert normalise("Ёлка") == "елка"
    assert normalise("退訂", simplified=True) == "退订"
    assert normalise("退訂") == "退訂"
    assert detect_language("好的") == "zh" and detect_language("ok 好") == "zh"
    assert detect_language("Спасибо") == "ru" and detect_language("thanks") == "en"


def test_custom_rules_and_their_problems() -> None:
    rules = [
        *DEFAULT_RULES,
        ReplyRule("en-order-deal", ORDER, "pattern", r"\bdeal\b", "en", priority=5),
    ]
    assert classify("It's a deal!", rules).rule == "en-order-deal"
    bad = ReplyRule("broken", ORDER, "pattern", "(unclosed", "en")
    assert bad.problems() == [
        "rule 'broken': pattern does not compile at 0: missing ), unterminated subpattern"
    ]
    assert ReplyRule("x", ORDER, "regex", "a").problems() == [
        "rule 'x': kind must be keyword or pattern, got 'regex'"
    ]


@given(st.text(max_size=40))
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(
    st.text(alphabet=st.characters(categories=["Ll", "Lu", "Zs"]), max_size=20),
    st.text(alphabet=st.characters(categories=["Ll", "Lu", "Zs"]), max_size=20),
)
def test_a_reply_with_the_word_stop_is_always_an_opt_out(before: str, after: str) -> None:
    reply = f"{before} STOP {after}"
    negated = normalise(before).split(" ")[-1:] in (
        ["not"],
        ["no"],
        ["dont"],
        ["don't"],
        ["never"],
        ["не"],
        ["нет"],
    )
    if not negated:
        assert classify(reply, DEFAULT_RULES).outcome is OPT_OUT
