"""``tactica responses``: what customers answered, and how Tactica reads it."""

from __future__ import annotations

import typer

from tactica.cli._common import console, fail
from tactica.domain.replies import DEFAULT_RULES, classify

app = typer.Typer(help="Responses: test how replies are classified.", no_args_is_help=True)


@app.command("classify")
def classify_text(
    text: str = typer.Argument(..., help="A reply, as a customer would type it."),
    lang: str | None = typer.Option(
        None, "--lang", help="Its language (en, zh, ru); detected from the text when left out."
    ),
) -> None:
    """Classify one reply: the outcome, the language, the rule that fired, the confidence."""
    if lang is not None and lang not in {r.language for r in DEFAULT_RULES if r.language}:
        fail(f"--lang: no rules for {lang!r}; languages with rules: en, ru, zh", 2)
    got = classify(text, DEFAULT_RULES, language=lang)
    console.print(
        f"outcome: [bold]{got.outcome.value}[/]\n"
        f"language: {got.language}{'' if lang else ' (detected)'}\n"
        f"rule: {got.rule or 'none fired'}\n"
        f"confidence: {got.confidence:.1f}",
        highlight=False,
    )
