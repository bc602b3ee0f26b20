"""How well the default rules read a labelled set of real-looking replies.

Run with ``pytest -s`` to print precision and recall per outcome and per language.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from tactica.domain.replies import DEFAULT_RULES, ReplyOutcome, classify

LABELLED = Path(__file__).parents[2] / "data" / "replies" / "labelled.csv"
LANGUAGES = ("en", "zh", "ru")

Row = tuple[str, str, ReplyOutcome, ReplyOutcome]  # language, reply, expected, got


def _rows() -> list[Row]:
    with LABELLED.open(encoding="utf-8", newline="") as f:
        return [
            (
                r["language"],
                r["reply"],
                ReplyOutcome(r["expected"]),
                classify(r["reply"], DEFAULT_RULES, language=r["language"]).outcome,
            )
            for r in csv.DictReader(f)
        ]


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return _rows()


def _precision_recall(rows: list[Row], outcome: ReplyOutcome) -> tuple[float, float]:
    tp = sum(1 for _, _, e, g in rows if e is outcome and g is outcome)
    predicted = sum(1 for _, _, _, g in rows if g is outcome)
    actual = sum(1 for _, _, e, _ in rows if e is outcome)
    return (tp / predicted if predicted else 1.0, tp / actual if actual else 1.0)


def _report(rows: list[Row]) -> str:
    lines = [f"{'set':<8} {'outcome':<9} {'n':>4} {'precision':>9} {'recall':>7}"]
    for lang in ("all", *LANGUAGES):
        subset = [r for r in rows if lang in ("all", r[0])]
        for outcome in ReplyOutcome:
            p, r = _precision_recall(subset, outcome)
            n = sum(1 for _, _, e, _ in subset if e is outcome)
            lines.append(f"{lang:<8} {outcome.value:<9} {n:>4} {p:>9.1%} {r:>7.1%}")
        acc = sum(1 for _, _, e, g in subset if e is g) / len(subset)
        lines.append(f"{lang:<8} {'accuracy':<9} {len(subset):>4} {acc:>9.1%}")
    return "\n".join(lines)


def test_the_set_has_a_hundred_replies_per_language(rows: list[Row]) -> None:
    counts = Counter(lang for lang, _, _, _ in rows)
    assert all(counts[lang] >= 100 for lang in LANGUAGES), counts
    assert set(counts) == set(LANGUAGES), counts


def test_every_opt_out_is_recognised(rows: list[Row]) -> None:
    print("\n" + _report(rows))
    missed = [
        (lang, reply, got.value)
        for lang, reply, e, got in rows
        if e is ReplyOutcome.OPT_OUT and got is not e
    ]
    assert not missed, f"opt-outs not recognised: {missed}"


def test_opt_outs_are_precise(rows: list[Row]) -> None:
    precision, _ = _precision_recall(rows, ReplyOutcome.OPT_OUT)
    wrong = [
        (lang, reply, e.value)
        for lang, reply, e, g in rows
        if g is ReplyOutcome.OPT_OUT and e is not g
    ]
    assert precision >= 0.95, f"opt-out precision {precision:.1%}; taken for opt-outs: {wrong}"


def test_overall_accuracy(rows: list[Row]) -> None:
    accuracy = sum(1 for _, _, e, g in rows if e is g) / len(rows)
    wrong = [(lang, reply, e.value, g.value) for lang, reply, e, g in rows if e is not g]
    assert accuracy >= 0.85, f"accuracy {accuracy:.1%}; misread: {wrong}"
