"""``tactica responses``: what customers answered, and how Tactica reads it."""

from __future__ import annotations

import sqlalchemy as sa
import typer

from tactica.cli._common import console, fail, open_store
from tactica.domain.replies import DEFAULT_RULES, ReplyRule, classify
from tactica.services.reply_rules import active_rules

app = typer.Typer(help="Responses: test how replies are classified.", no_args_is_help=True)


@app.command("classify")
def classify_text(
    text: str = typer.Argument(..., help="A reply, as a customer would type it."),
    lang: str | None = typer.Option(
        None, "--lang", help="Its language (en, zh, ru); detected from the text when left out."
    ),
) -> None:
    """Classify one reply with the workspace's rules: outcome, language, rule, confidence."""
    rules = _workspace_rules()
    languages = sorted({r.language for r in rules if r.language})
    if lang is not None and lang not in languages:
        fail(f"--lang: no rules for {lang!r}; languages with rules: {', '.join(languages)}", 2)
    got = classify(text, rules, language=lang)
    console.print(
        f"outcome: [bold]{got.outcome.value}[/]\n"
        f"language: {got.language}{'' if lang else ' (detected)'}\n"
        f"rule: {got.rule or 'none fired'}\n"
        f"confidence: {got.confidence:.1f}",
        highlight=False,
    )


def _workspace_rules() -> list[ReplyRule]:
    """The rules replies are read with here; the built-in ones before the database exists."""
    store = open_store()
    try:
        if "reply_rules" not in sa.inspect(store.engine).get_table_names():
            return list(DEFAULT_RULES)
        with store.session() as s:
            return active_rules(s)
    finally:
        store.dispose()
