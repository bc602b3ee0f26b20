"""``tactica reps``, ``tactica leads``, ``tactica sales`` and ``tactica orders``: the sales side.

Whoever holds the terminal holds the database, so commands act as a sales admin
unless ``--as USER`` names the Tactica user to act as (a rep working their leads,
a marketer approving a discount): that user's role then decides what is allowed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from tactica.cli._common import cli_actor, console, open_store, parse_day
from tactica.domain.access import Role
from tactica.errors import InvalidInput, PermissionDenied
from tactica.services import orders, sales, users
from tactica.services.sales import Acting

reps_app = typer.Typer(
    help="Sales reps: territory, skills, capacity, role and manager.", no_args_is_help=True
)
leads_app = typer.Typer(
    help="Leads: interest that needs a person, worked new → contacted → qualified → won / lost.",
    no_args_is_help=True,
)
sales_app = typer.Typer(help="Sales figures per rep and day.", no_args_is_help=True)
orders_app = typer.Typer(
    help="Orders: list them, approve or reject discounts beyond an offer's bounds.",
    no_args_is_help=True,
)

AS_HELP = "Act as this Tactica user (their role applies); default: the terminal, as an admin"


def _acting(s: Session, as_user: str | None) -> Acting:
    if as_user is None:
        me = cli_actor()
        return Acting(me, Role.ADMIN.value, me)
    user = users.get_user(s, as_user)
    if not user.active:
        raise PermissionDenied(f"user {as_user!r} is disabled")
    return Acting(user.username, user.role, f"user:{user.username}")


def _skills(value: str | None) -> list[str] | None:
    return None if value is None else [v for v in value.split(",") if v.strip()]


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"a time such as 2026-11-24T15:30, got {value!r}", "--at") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _t(value: str | None) -> str:
    """An ISO time as a short UTC reading, for tables."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _assigned(n: int) -> None:
    if n:
        console.print(f"{n} waiting lead{'s' if n != 1 else ''} assigned.")


# ------------------------------------------------------------------ reps


@reps_app.command("add")
def add_rep(
    username: str = typer.Argument(..., help="The rep's Tactica username"),
    name: str = typer.Option("", "--name", help="Full name"),
    territory: str | None = typer.Option(None, help="Territory, matched to customers' region"),
    skills: str | None = typer.Option(None, help="Products they sell, comma-separated"),
    capacity: int = typer.Option(50, help="Most open leads they hold at once"),
    role: str = typer.Option("hunter", help="hunter (new business) or farmer (accounts)"),
    manager: str | None = typer.Option(None, help="Username their overdue leads escalate to"),
) -> None:
    """Add a rep; waiting leads are assigned at once if they have room."""
    with open_store().session() as s:
        done = sales.add_rep(
            s,
            username,
            full_name=name,
            territory=territory,
            skills=_skills(skills) or [],
            capacity=capacity,
            role=role,
            manager=manager,
            actor=cli_actor(),
        )
        s.commit()
    console.print(f"Added rep [bold]{escape(username)}[/].", highlight=False)
    _assigned(done.assigned)


@reps_app.command("list")
def list_reps(
    all_: bool = typer.Option(False, "--all", help="Include inactive reps"),
) -> None:
    """Reps with their capacity, open and overdue leads."""
    with open_store().session() as s:
        found = sales.list_reps(s, include_inactive=all_)
    t = Table(
        "rep", "name", "territory", "skills", "role", "manager", "open", "capacity", "overdue"
    )
    for r in found:
        t.add_row(
            r["username"] + ("" if r["active"] else " (inactive)"),
            r["full_name"],
            r["territory"] or "",
            ", ".join(r["skills"]),
            r["role"],
            r["manager"] or "",
            str(r["open_leads"]),
            str(r["capacity"]),
            str(r["overdue_leads"]) if r["overdue_leads"] else "",
        )
    console.print(t)


@reps_app.command("update")
def update_rep(
    username: str,
    name: str | None = typer.Option(None, "--name", help="Full name"),
    territory: str | None = typer.Option(None, help="Territory ('' clears it)"),
    skills: str | None = typer.Option(None, help="Products, comma-separated (replaces them)"),
    capacity: int | None = typer.Option(None, help="Most open leads at once"),
    role: str | None = typer.Option(None, help="hunter or farmer"),
    manager: str | None = typer.Option(None, help="Manager's username ('' clears it)"),
    active: bool | None = typer.Option(None, "--active/--inactive", help="Take leads or not"),
) -> None:
    """Change a rep; more capacity takes waiting leads, --inactive hands theirs on."""
    with open_store().session() as s:
        done = sales.update_rep(
            s,
            username,
            full_name=name,
            territory=territory,
            skills=_skills(skills),
            capacity=capacity,
            role=role,
            manager=manager,
            active=active,
            actor=cli_actor(),
        )
        s.commit()
        state = "active" if done.rep.active else "inactive"
    console.print(f"Rep {escape(username)}: {state}, capacity {done.rep.capacity}.")
    if done.released:
        console.print(f"{done.released} open leads handed back.")
    _assigned(done.assigned)


@reps_app.command("deactivate")
def deactivate_rep(username: str) -> None:
    """Stop giving a rep leads; their open leads go to others with room (or wait)."""
    with open_store().session() as s:
        done = sales.deactivate_rep(s, username, actor=cli_actor())
        s.commit()
    console.print(f"Rep {escape(username)} deactivated; {done.released} open leads handed back.")
    _assigned(done.assigned)


# ------------------------------------------------------------------ leads


@leads_app.command("list")
def list_leads(
    rep: str | None = typer.Option(None, help="Only this rep's leads"),
    status: str | None = typer.Option(None, help="new, contacted, qualified, won or lost"),
    overdue: bool = typer.Option(False, "--overdue", help="Only leads still new past their SLA"),
    unassigned: bool = typer.Option(False, "--unassigned", help="Only open leads nobody holds"),
    limit: int = typer.Option(50, min=1, max=10_000, help="At most this many"),
) -> None:
    """Leads, newest first (overdue ones most overdue first)."""
    with open_store().session() as s:
        found = [
            sales.lead_view(x)
            for x in sales.list_leads(
                s, rep=rep, status=status, overdue=overdue, unassigned=unassigned, limit=limit
            )
        ]
    t = Table("id", "customer", "offer", "status", "rep", "due", "escalated to", "reply")
    for v in found:
        due = _t(v["due_at"]) + (" [red]overdue[/]" if v["overdue"] else "")
        esc = (v["escalated_to"] or "(no manager)") if v["escalated_at"] else ""
        t.add_row(
            str(v["id"]),
            escape(v["customer_id"]),
            v["offer"] or "",
            v["status"],
            v["rep"] or "[dim]waiting[/]",
            due,
            escape(esc),
            escape(v["reply"][:40]),
        )
    console.print(t)


@leads_app.command("show")
def show_lead(lead_id: int = typer.Argument(..., help="The lead's id")) -> None:
    """A lead, its activities and its order."""
    with open_store().session() as s:
        v = sales.lead_detail(s, lead_id)
    console.rule(f"lead {v['id']} — {v['status']}")
    for label, key in (
        ("customer", "customer_id"),
        ("reply", "reply"),
        ("program", "program"),
        ("campaign", "campaign"),
        ("offer", "offer"),
        ("rep", "rep"),
        ("assigned", "assigned_at"),
        ("due", "due_at"),
        ("contacted", "contacted_at"),
        ("escalated", "escalated_at"),
        ("escalated to", "escalated_to"),
        ("closed", "closed_at"),
        ("lost because", "lost_reason"),
    ):
        value = v[key]
        if value is None:
            continue
        shown = _t(value) if key.endswith("_at") else str(value)
        console.print(f"[bold]{label}:[/] {escape(shown)}", highlight=False)
    if v["overdue"]:
        console.print("[red]overdue: still new past its SLA[/]")
    if v["activities"]:
        t = Table("at", "kind", "rep", "minutes", "cost", "result", "notes", title="activities")
        for a in v["activities"]:
            t.add_row(
                _t(a["at"]),
                a["kind"],
                a["rep"],
                str(a["minutes"]),
                a["cost"],
                escape(a["result"]),
                escape(a["notes"]),
            )
        console.print(t)
    if v["order"]:
        o = v["order"]
        console.print(
            f"[bold]order {o['id']}:[/] {o['offer']} {o['amount']} {o['currency']} "
            f"(discount {o['discount']}%), {o['status']}",
            highlight=False,
        )


def _order_line(o: Any) -> str:
    if o.status == orders.PENDING:
        return (
            f"order {o.id} waits for approval: a {o.discount}% discount is beyond the offer's "
            f"bounds (tactica orders approve {o.id})"
        )
    return f"order {o.id} {o.status}: {o.offer} {o.amount} {o.currency}"


@leads_app.command("move")
def move_lead(
    lead_id: int = typer.Argument(..., help="The lead's id"),
    status: str = typer.Argument(..., help="contacted, qualified, won or lost"),
    reason: str | None = typer.Option(None, help="Why it was lost (needed for lost)"),
    discount: str | None = typer.Option(None, help="Won: the discount in percent"),
    offer: str | None = typer.Option(None, help="Won: the offer ordered, if not the lead's"),
    as_user: str | None = typer.Option(None, "--as", help=AS_HELP),
) -> None:
    """Move a lead along; won books its order, lost needs --reason."""
    with open_store().session() as s:
        done = sales.move_lead(
            s,
            lead_id,
            status,
            who=_acting(s, as_user),
            reason=reason,
            discount=discount,
            offer=offer,
        )
        s.commit()
        console.print(f"Lead {lead_id} is {done.lead.status}.")
        if done.order is not None:
            console.print(_order_line(done.order), highlight=False)
    _assigned(done.assigned)


@leads_app.command("activity")
def log_activity(
    lead_id: int = typer.Argument(..., help="The lead's id"),
    kind: str = typer.Argument(..., help="call, visit, email or meeting"),
    minutes: int = typer.Option(0, help="How long it took"),
    cost: str = typer.Option("0", help="What it cost (travel, phone...)"),
    result: str = typer.Option("", help="Its result in a word or two: interested, no answer..."),
    notes: str = typer.Option("", help="Notes"),
    at: str | None = typer.Option(None, help="When (ISO time, UTC unless given); default now"),
    as_user: str | None = typer.Option(None, "--as", help=AS_HELP),
) -> None:
    """Log what a rep did on a lead; a call on a new lead makes it contacted."""
    with open_store().session() as s:
        done = sales.log_activity(
            s,
            lead_id,
            kind,
            who=_acting(s, as_user),
            at=_when(at),
            minutes=minutes,
            cost=cost,
            result=result,
            notes=notes,
        )
        s.commit()
        line = f"Logged {done.activity.kind} on lead {lead_id} for {done.activity.rep}."
        if done.contacted:
            line += " The lead is contacted."
    console.print(escape(line), highlight=False)


@leads_app.command("assign")
def assign_lead(
    lead_id: int = typer.Argument(..., help="The lead's id"),
    rep: str = typer.Argument(..., help="The rep who takes it"),
    as_user: str | None = typer.Option(None, "--as", help=AS_HELP),
) -> None:
    """Give an open lead to a rep (sales admins), whatever their capacity."""
    with open_store().session() as s:
        done = sales.reassign_lead(s, lead_id, rep, who=_acting(s, as_user))
        s.commit()
    console.print(f"Lead {lead_id} is {escape(rep)}'s.", highlight=False)
    _assigned(done.assigned)


@leads_app.command("escalate")
def escalate() -> None:
    """Escalate leads still new past their SLA to their rep's manager (the scheduler does too)."""
    with open_store().session() as s:
        done = sales.escalate_overdue(s)
        s.commit()
    for e in done:
        to = e.escalated_to or "nobody (the rep has no manager)"
        console.print(f"lead {e.lead_id} of {e.rep or 'no rep'} → {escape(to)}", highlight=False)
    console.print(f"{len(done)} lead{'s' if len(done) != 1 else ''} escalated.")


# ------------------------------------------------------------------ figures


def _ratio(value: Decimal | None, places: str) -> str:
    return "" if value is None else format(value.quantize(Decimal(places)), ",f")


@sales_app.command("figures")
def figures(
    day: str | None = typer.Option(None, help="The day (YYYY-MM-DD); default today"),
    to: str | None = typer.Option(None, help="Last day of a period starting at --day"),
    rep: str | None = typer.Option(None, help="Only this rep"),
    tz: str = typer.Option("UTC", help="Time zone the days are in"),
) -> None:
    """Calls, visits, cost, cost per call, orders, orders per call, open and overdue leads."""
    start = parse_day(day, "--day") or datetime.now(UTC).date()
    with open_store().session() as s:
        got = sales.figures(s, start, to=parse_day(to, "--to"), rep=rep, tz=tz)
    period = got.start.isoformat() + (f" to {got.end.isoformat()}" if got.end != got.start else "")
    t = Table(
        "day",
        "rep",
        "calls",
        "visits",
        "activities",
        "cost",
        "cost/call",
        "orders",
        "orders/call",
        "open",
        "overdue",
        title=f"Sales figures, {period} ({got.tz})",
        title_justify="left",
    )
    rows = got.days if got.start == got.end else [*got.days, *got.totals]
    for i, f in enumerate(rows):
        if i == len(got.days) and got.start != got.end:
            t.add_section()
        t.add_row(
            f.day.isoformat() if f.day else "[bold]total[/]",
            escape(f.rep),
            str(f.calls),
            str(f.visits),
            str(f.activities),
            format(f.cost, ",.2f"),
            _ratio(f.cost_per_call, "0.01"),
            str(f.orders),
            _ratio(f.orders_per_call, "0.01"),
            str(f.open_leads),
            str(f.overdue_leads),
        )
    console.print(t)


# ------------------------------------------------------------------ orders


@orders_app.command("list")
def list_orders(
    status: str | None = typer.Option(None, help="booked, pending_approval or rejected"),
    limit: int = typer.Option(50, min=1, max=10_000, help="At most this many"),
) -> None:
    """Orders, newest first."""
    with open_store().session() as s:
        found = [orders.order_view(o) for o in orders.list_orders(s, status=status, limit=limit)]
    t = Table("id", "customer", "offer", "price", "discount %", "amount", "status", "by", "lead")
    for o in found:
        t.add_row(
            str(o["id"]),
            escape(o["customer_id"]),
            o["offer"],
            o["price"],
            o["discount"],
            f"{o['amount']} {o['currency']}",
            o["status"],
            escape(o["requested_by"] or ""),
            str(o["lead_id"] or ""),
        )
    console.print(t)


def _decide(order_id: int, approve: bool, note: str, as_user: str | None) -> None:
    with open_store().session() as s:
        who = _acting(s, as_user)
        o = orders.decide_order(
            s, order_id, approve=approve, actor=who.actor, role=who.role, note=note
        )
        s.commit()
        console.print(f"Order {o.id} {o.status}: {o.offer} {o.amount} {o.currency}.")


@orders_app.command("approve")
def approve(
    order_id: int = typer.Argument(..., help="The order's id"),
    note: str = typer.Option("", help="Why"),
    as_user: str | None = typer.Option(None, "--as", help=AS_HELP),
) -> None:
    """Book an order whose discount was beyond the offer's bounds."""
    _decide(order_id, True, note, as_user)


@orders_app.command("reject")
def reject(
    order_id: int = typer.Argument(..., help="The order's id"),
    note: str = typer.Option("", help="Why"),
    as_user: str | None = typer.Option(None, "--as", help=AS_HELP),
) -> None:
    """Refuse an order whose discount was beyond the offer's bounds."""
    _decide(order_id, False, note, as_user)
