"""``tactica responses list|show|correct`` and ``tactica responses rules``: the marketer's side.

What came back, what it was taken to mean, what it led to; the review queue and its
corrections; and the deployment's reply rules.
"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from tactica.cli._common import cli_actor, console, open_store
from tactica.config import get_settings
from tactica.services import reply_rules, responses

rules_app = typer.Typer(
    help="Reply rules: the keywords and patterns replies are read with, per language.",
    no_args_is_help=True,
)


def list_cmd(
    review: bool = typer.Option(False, "--review", help="Only the review queue"),
    unattributed: bool = typer.Option(
        False, "--unattributed", help="Only those matching no contact"
    ),
    outcome: str | None = typer.Option(None, help="order, interest, opt_out or other"),
    customer: str | None = typer.Option(None, help="Only this customer's"),
    limit: int = typer.Option(50, min=1, max=10_000, help="At most this many, newest first"),
) -> None:
    """Responses, newest first: the text, how it was read and what it led to."""
    with open_store().session() as s:
        rows = responses.list_responses(
            s,
            review=review,
            unattributed=unattributed,
            outcome=outcome,
            customer_id=customer,
            limit=limit,
        )
        views = [responses.response_view(r) for r in rows]
    if not views:
        console.print("No responses." if not review else "The review queue is empty.")
        return
    table = Table("id", "received", "customer", "campaign", "text", "outcome", "rule", "result")
    for v in views:
        table.add_row(
            str(v["id"]),
            v["received_at"][:16].replace("T", " "),
            escape(v["customer_id"] or f"? {v['sender'] or ''}"),
            escape(v["campaign"] or "-"),
            escape(v["text"][:40]),
            f"{v['outcome']} ({v['confidence']:.1f})",
            escape(v["rule"] or "-"),
            v["result"] + (" · to review" if v["review"] == "pending" else ""),
        )
    console.print(table)


def show(response_id: int = typer.Argument(..., help="The response's id")) -> None:
    """One response in full."""
    with open_store().session() as s:
        v = responses.response_view(responses.get_response(s, response_id))
    for key, value in v.items():
        console.print(f"{key}: {escape(str(value)) if value is not None else '-'}", highlight=False)


def correct(
    response_id: int = typer.Argument(..., help="The response's id"),
    outcome: str = typer.Argument(..., help="order, interest, opt_out or other"),
    remember: str | None = typer.Option(
        None, help="Remember this keyword as a rule for the reply's language"
    ),
) -> None:
    """Say what a response meant; it is acted on (order, lead, opt-out) at once."""
    with open_store().session() as s:
        r = responses.correct(
            s,
            response_id,
            outcome,
            actor=cli_actor(),
            remember=remember,
            opt_out_scope=get_settings().opt_out_scope,
        )
        s.commit()
        result, language = r.result, r.language
    console.print(f"Response {response_id}: {outcome} → {result.replace('_', ' ')}.")
    if remember:
        console.print(f"Rule added: {escape(remember)!r} means {outcome} ({language or 'any'}).")


@rules_app.command("list")
def rules_list(
    lang: str | None = typer.Option(None, "--lang", help="Only this language's (and any)"),
    active: bool = typer.Option(False, "--active", help="Only rules switched on"),
) -> None:
    """The reply rules, by language."""
    with open_store().session() as s:
        rows = [
            reply_rules.rule_view(r)
            for r in reply_rules.list_rules(s, language=lang, include_inactive=not active)
        ]
    table = Table("lang", "outcome", "kind", "text", "prio", "on", "source")
    table.add_column("name", overflow="fold")
    for v in rows:
        table.add_row(
            v["language"] or "any",
            v["outcome"],
            v["kind"],
            escape(v["text"][:50]),
            str(v["priority"]),
            "yes" if v["active"] else "no",
            v["source"],
            escape(v["name"]),
        )
    console.print(table)


@rules_app.command("add")
def rules_add(
    outcome: str = typer.Argument(..., help="order, interest or opt_out"),
    text: str = typer.Argument(..., help="The keyword (or, with --pattern, a regular expression)"),
    lang: str | None = typer.Option(
        None, "--lang", help="en, zh or ru; every language if left out"
    ),
    pattern: bool = typer.Option(False, "--pattern", help="TEXT is a regular expression"),
    name: str | None = typer.Option(None, help="A name (made from the text if left out)"),
    priority: int = typer.Option(0, help="Higher wins when rules of one outcome disagree"),
    simplified: bool = typer.Option(
        False, "--simplified", help="Read traditional Chinese as simplified for this rule"
    ),
) -> None:
    """Add a keyword or pattern rule; replies taken from now on are read with it."""
    with open_store().session() as s:
        row = reply_rules.add_rule(
            s,
            outcome=outcome,
            text=text,
            language=lang,
            kind="pattern" if pattern else "keyword",
            name=name,
            priority=priority,
            simplified=simplified,
            actor=cli_actor(),
        )
        s.commit()
        console.print(f"Rule [bold]{escape(row.name)}[/] added.")


@rules_app.command("disable")
def rules_disable(name: str = typer.Argument(..., help="The rule's name")) -> None:
    """Switch a rule off."""
    with open_store().session() as s:
        reply_rules.set_active(s, name, False, actor=cli_actor())
        s.commit()
    console.print(f"Rule {escape(name)} switched off.")


@rules_app.command("enable")
def rules_enable(name: str = typer.Argument(..., help="The rule's name")) -> None:
    """Switch a rule on."""
    with open_store().session() as s:
        reply_rules.set_active(s, name, True, actor=cli_actor())
        s.commit()
    console.print(f"Rule {escape(name)} switched on.")


@rules_app.command("remove")
def rules_remove(name: str = typer.Argument(..., help="The rule's name")) -> None:
    """Remove a rule a person added (built-in rules are switched off instead)."""
    with open_store().session() as s:
        reply_rules.remove_rule(s, name, actor=cli_actor())
        s.commit()
    console.print(f"Rule {escape(name)} removed.")


def register(app: typer.Typer) -> None:
    """Add these commands to the ``tactica responses`` group."""
    app.command("list")(list_cmd)
    app.command("show")(show)
    app.command("correct")(correct)
    app.add_typer(rules_app, name="rules")
