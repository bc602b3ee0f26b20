"""``tactica offers``: define what is proposed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from rich.table import Table

from tactica.cli._common import cli_actor, console, open_store, parse_day
from tactica.errors import InvalidInput
from tactica.services import offers

app = typer.Typer(
    help="Offers: product, price, value, discount bounds, eligibility.", no_args_is_help=True
)


def _money(raw: str | None, where: str) -> Decimal | None:
    if raw is None:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise InvalidInput(f"{raw!r} is not a number", where=where) from None


@app.command("create")
def create(
    code: str = typer.Argument(..., help="Unique offer code, e.g. TD-12M"),
    name: str = typer.Option(..., help="Name shown to people"),
    product: str = typer.Option("", help="Product the offer sells"),
    description: str = typer.Option("", help="Longer text"),
    currency: str = typer.Option("EUR", help="ISO currency"),
    price: str = typer.Option("0", help="Price"),
    value: str = typer.Option("0", help="Expected value of an acceptance (used for arbitration)"),
    margin: str = typer.Option("0", help="Margin of an acceptance"),
    discount_min: str = typer.Option("0", help="Smallest discount, percent"),
    discount_max: str = typer.Option("0", help="Largest discount, percent"),
    eligibility: str | None = typer.Option(None, help="Rule: who may get it"),
    valid_from: str | None = typer.Option(None, help="First day, YYYY-MM-DD"),
    valid_to: str | None = typer.Option(None, help="Last day, YYYY-MM-DD"),
) -> None:
    """Create an offer."""
    data = offers.OfferInput(
        code=code,
        name=name,
        product=product,
        description=description,
        currency=currency,
        price=_money(price, "price") or Decimal(0),
        value=_money(value, "value") or Decimal(0),
        margin=_money(margin, "margin") or Decimal(0),
        discount_min=_money(discount_min, "discount_min") or Decimal(0),
        discount_max=_money(discount_max, "discount_max") or Decimal(0),
        eligibility=eligibility,
        valid_from=parse_day(valid_from, "valid_from"),
        valid_to=parse_day(valid_to, "valid_to"),
    )
    with open_store().session() as s:
        offers.create_offer(s, data, actor=cli_actor())
        s.commit()
    console.print(f"Created offer [bold]{code}[/].")


@app.command("update")
def update(
    code: str,
    name: str | None = typer.Option(None),
    price: str | None = typer.Option(None),
    value: str | None = typer.Option(None),
    margin: str | None = typer.Option(None),
    eligibility: str | None = typer.Option(None, help="New rule ('' removes it)"),
    valid_from: str | None = typer.Option(None),
    valid_to: str | None = typer.Option(None),
    active: bool | None = typer.Option(None, "--active/--inactive"),
) -> None:
    """Change some fields of an offer."""
    changes: dict[str, Any] = {
        "name": name,
        "price": _money(price, "price"),
        "value": _money(value, "value"),
        "margin": _money(margin, "margin"),
        "eligibility": eligibility,
        "valid_from": parse_day(valid_from, "valid_from"),
        "valid_to": parse_day(valid_to, "valid_to"),
        "active": active,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    with open_store().session() as s:
        offers.update_offer(s, code, changes, actor=cli_actor())
        s.commit()
    console.print(f"Updated offer [bold]{code}[/].")


@app.command("list")
def list_(active_on: str | None = typer.Option(None, help="Only offers valid that day")) -> None:
    """Every offer."""
    with open_store().session() as s:
        t = Table("code", "name", "product", "price", "value", "margin", "valid", "eligibility")
        for o in offers.list_offers(s, active_on=parse_day(active_on, "active_on")):
            valid = f"{o.valid_from or '…'} → {o.valid_to or '…'}"
            t.add_row(
                o.code,
                o.name,
                o.product,
                f"{o.price} {o.currency}",
                str(o.value),
                str(o.margin),
                valid,
                o.eligibility or "",
            )
        console.print(t)


@app.command("show")
def show(code: str) -> None:
    """One offer, every field."""
    with open_store().session() as s:
        view = offers.offer_view(offers.get_offer(s, code))
    for k, v in view.items():
        shown = v.isoformat() if isinstance(v, date | datetime) else v
        console.print(f"[bold]{k:>13}[/] {shown if shown is not None else ''}", highlight=False)


@app.command("delete")
def delete(code: str) -> None:
    """Remove an offer."""
    with open_store().session() as s:
        offers.delete_offer(s, code, actor=cli_actor())
        s.commit()
    console.print(f"Deleted offer {code}.")
