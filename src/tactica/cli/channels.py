"""``tactica channels``: configure the ways messages leave Tactica."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from tactica.cli._common import cli_actor, console, open_store
from tactica.domain.channel_config import KINDS, ChannelSpec, parse_quiet_hours, settings_of
from tactica.errors import InvalidInput
from tactica.services import channel_configs

app = typer.Typer(
    help="Channels: SMTP servers, SMS gateways, webhooks and call centres, with their limits.",
    no_args_is_help=True,
)


def _cost(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise InvalidInput(f"{raw!r} is not an amount such as 0.05", where="--cost") from None


def _quiet(raw: str | None) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    try:
        return parse_quiet_hours(raw)
    except ValueError as e:
        raise InvalidInput(str(e), where="--quiet") from None


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Channel name, e.g. sms-gateway"),
    kind: str = typer.Option(..., help=f"Adapter: {', '.join(KINDS)}"),
    set_: list[str] = typer.Option(
        [], "--set", help="A setting, key=value (repeat): --set url=https://... --set api_key=..."
    ),
    rate: float | None = typer.Option(None, help="Messages a second at most (default: no limit)"),
    quiet: str | None = typer.Option(None, help="Quiet hours, HH:MM-HH:MM, e.g. 21:00-08:00"),
    timezone: str = typer.Option("UTC", help="Time zone the quiet hours are read in"),
    max_attempts: int = typer.Option(5, help="Tries per message before it fails for good"),
    retry_base: float = typer.Option(30.0, help="Seconds before the first retry (then doubled)"),
    retry_cap: float = typer.Option(3600.0, help="Longest wait between retries, seconds"),
    cost: str | None = typer.Option(None, help="Cost of one message, e.g. 0.05"),
    daily_capacity: int | None = typer.Option(None, help="Messages a day (call centres)"),
    disable: bool = typer.Option(False, "--disable", help="Save it switched off"),
) -> None:
    """Create or replace a channel (every setting is given again on replace)."""
    settings, problems = settings_of(set_)
    if problems:
        raise InvalidInput("; ".join(problems), where="--set")
    quiet_start, quiet_end = _quiet(quiet)
    spec = ChannelSpec.for_kind(
        name,
        kind,
        settings,
        enabled=not disable,
        rate_per_second=rate,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        timezone=timezone,
        max_attempts=max_attempts,
        retry_base_seconds=retry_base,
        retry_cap_seconds=retry_cap,
        cost_per_message=_cost(cost),
        daily_capacity=daily_capacity,
    )
    with open_store().session() as s:
        result = channel_configs.save_channel(s, spec, actor=cli_actor())
        s.commit()
    console.print(
        f"Channel [bold]{escape(name)}[/] ({kind} → {spec.channel}) {result}.", highlight=False
    )


def _quiet_text(view: dict[str, Any]) -> str:
    if view["quiet_start"] is None:
        return ""
    return f"{view['quiet_start']}-{view['quiet_end']} {view['timezone']}"


@app.command("list")
def list_() -> None:
    """Every configured channel (secrets masked)."""
    with open_store().session() as s:
        views = [channel_configs.channel_view(c) for c in channel_configs.list_channels(s)]
    t = Table(
        "name", "kind", "channel", "enabled", "rate/s", "quiet", "attempts", "cost", "per day"
    )
    for v in views:
        t.add_row(
            escape(v["name"]),
            v["kind"],
            v["channel"],
            "yes" if v["enabled"] else "no",
            "" if v["rate_per_second"] is None else f"{v['rate_per_second']:g}",
            _quiet_text(v),
            str(v["max_attempts"]),
            "" if v["cost_per_message"] is None else str(v["cost_per_message"]),
            "" if v["daily_capacity"] is None else str(v["daily_capacity"]),
        )
    console.print(t)


@app.command("show")
def show(name: str) -> None:
    """One channel, every field (secrets masked)."""
    with open_store().session() as s:
        view = channel_configs.channel_view(channel_configs.get_channel(s, name))
    for key, value in view.items():
        if key == "settings":
            continue
        shown = "" if value is None else value
        console.print(f"[bold]{key:>18}[/] {escape(str(shown))}", highlight=False)
    for key, value in view["settings"].items():
        console.print(f"[bold]{'settings.' + key:>18}[/] {escape(str(value))}", highlight=False)


@app.command("remove")
def remove(name: str) -> None:
    """Remove a configured channel."""
    with open_store().session() as s:
        channel_configs.delete_channel(s, name, actor=cli_actor())
        s.commit()
    console.print(f"Removed channel {escape(name)}.", highlight=False)
