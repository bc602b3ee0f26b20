"""``tactica templates``: write, check and preview what a contact says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from tactica.cli._common import cli_actor, console, open_store
from tactica.config import get_settings
from tactica.domain.templates import MessageTemplate
from tactica.errors import InvalidInput, NotFound
from tactica.services import templates

app = typer.Typer(
    help="Message templates: one per channel and language, checked when saved.",
    no_args_is_help=True,
)


def _body(body: str | None, file: Path | None) -> str:
    if (body is None) == (file is None):
        raise InvalidInput("give the text with --body TEXT or --file PATH (one of them)")
    if file is None:
        assert body is not None
        return body
    if not file.is_file():
        raise NotFound(f"no file {file}")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"not UTF-8 text (byte {e.start})", where=str(file)) from None


def _length(view: dict[str, Any] | None) -> str:
    if view is None:
        return ""
    n = view["segments"]
    return f"{view['encoding']}, {view['units']} units, {n} segment{'s' if n != 1 else ''}"


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Template name, shared by its channel/language variants"),
    channel: str = typer.Option(..., help="email, sms, phone, push, webhook or mail"),
    language: str = typer.Option("en", help="Language code: en, zh, ru, pt-br..."),
    subject: str | None = typer.Option(None, help="Subject line (e-mail only)"),
    body: str | None = typer.Option(None, help="The text (Jinja2: {{ customer.first_name }})"),
    file: Path | None = typer.Option(None, "--file", "-f", help="Read the text from a file"),
) -> None:
    """Create or replace the variant of NAME for a channel and language."""
    t = MessageTemplate(name, channel, language, subject, _body(body, file))
    with open_store().session() as s:
        result = templates.apply_template(s, t, actor=cli_actor())
        s.commit()
    console.print(
        f"Template [bold]{escape(name)}[/] ({escape(channel)}, {escape(language)}) {result}.",
        highlight=False,
    )
    if channel == "sms":
        length = _length(templates.template_view(t)["sms_length"])
        console.print(f"As written: {length}.", highlight=False)


@app.command("list")
def list_(channel: str | None = typer.Option(None, help="Only this channel's templates")) -> None:
    """Every template variant."""
    with open_store().session() as s:
        found = templates.list_templates(s, channel=channel)
    t = Table("name", "channel", "language", "subject", "length (as written)")
    for tpl in found:
        length = _length(templates.template_view(tpl)["sms_length"])
        t.add_row(tpl.name, tpl.channel, tpl.language, tpl.subject or "", length)
    console.print(t)


@app.command("show")
def show(
    name: str,
    channel: str | None = typer.Option(None, help="Only this channel's variants"),
) -> None:
    """Every variant of NAME, its text in full."""
    with open_store().session() as s:
        found = templates.list_templates(s, name=name, channel=channel)
    if not found:
        raise NotFound(f"no template {name!r}" + (f" for {channel}" if channel else ""))
    for tpl in found:
        console.rule(escape(f"{tpl.name} — {tpl.channel}, {tpl.language}"))
        if tpl.subject is not None:
            console.print(f"[bold]subject[/] {escape(tpl.subject)}", highlight=False)
        console.print(tpl.body, highlight=False, markup=False, soft_wrap=True)
        length = _length(templates.template_view(tpl)["sms_length"])
        if length:
            console.print(f"[dim]As written: {length}.[/]", highlight=False)


@app.command("preview")
def preview(
    name: str,
    channel: str = typer.Option(..., help="The channel whose variant to fill in"),
    customer: str = typer.Option(..., help="Customer id whose fields fill it in"),
    offer: str | None = typer.Option(None, help="Offer code (default: the first offer)"),
    language: str | None = typer.Option(None, help="Language (default: the customer's)"),
    campaign: str = typer.Option("preview", help="Campaign name the template sees"),
) -> None:
    """The message one real customer would get."""
    settings = get_settings()
    with open_store().session() as s:
        out = templates.preview(
            s,
            name,
            channel,
            customer,
            offer_code=offer,
            language=language,
            campaign=campaign,
            secret=settings.secret,
            base_url=settings.public_url,
        )
    facts = f"{out['name']} ({out['channel']}, {out['language']}) for customer {customer}"
    if out["offer"] is not None:
        facts += f", offer {out['offer']}"
    console.rule(escape(facts))
    if out["subject"] is not None:
        console.print(f"[bold]subject[/] {escape(out['subject'])}", highlight=False)
    console.print(out["body"], highlight=False, markup=False, soft_wrap=True)
    if out["sms_length"] is not None:
        console.print(f"[dim]{_length(out['sms_length'])}.[/]", highlight=False)


@app.command("remove")
def remove(
    name: str,
    channel: str = typer.Option(..., help="The variant's channel"),
    language: str = typer.Option(..., help="The variant's language"),
) -> None:
    """Remove one variant of a template."""
    with open_store().session() as s:
        templates.delete_template(s, name, channel, language, actor=cli_actor())
        s.commit()
    console.print(f"Removed template {name} ({channel}, {language}).", highlight=False)
