"""``tactica quickstart``: build the demo workspace and show what Tactica does."""

from __future__ import annotations

import sqlalchemy as sa
from rich.table import Table

from tactica.cli._common import console, open_store
from tactica.cli.customers import import_progress
from tactica.cli.segments import print_profile
from tactica.config import get_settings
from tactica.services import segments
from tactica.services.demo import ACTOR
from tactica.store.db import Store
from tactica.store.models import Contact


def quickstart() -> None:
    """Create a workspace, import a real bank's customers, segment them, run a demo program."""
    from tactica.services.demo import build  # the demo pulls in the importer: load on use

    settings = get_settings()
    home = settings.ensure_home()
    store = open_store()
    console.rule("[bold]Tactica quickstart")
    console.print(f"Workspace: [bold]{home}[/]  database: {store.engine.url.render_as_string()}")
    with import_progress() as progress:
        result = build(store, home, progress)

    b, c = result.bank, result.contacts
    console.print(
        f"\n[bold]1. Customers[/]: imported the bank file — {b.rows_read:,} rows, "
        f"{b.inserted:,} new, {b.updated - b.unchanged:,} changed, {b.unchanged:,} unchanged, "
        f"{b.rejected} rejected, "
        f"in {b.elapsed:.1f} s."
    )
    console.print(
        f"   Added contact points, consents and regions from a second file — "
        f"{c.inserted:,} new, {c.updated - c.unchanged:,} changed, {c.unchanged:,} unchanged "
        "(upsert by id)."
    )
    console.print(
        f"\n[bold]2. Special lists[/]: {result.opted_out} customers on opt_out for SMS "
        "(they replied STOP)."
    )
    t = Table("segment", "customers", "rule", title="3. Segments")
    for seg in result.segments:
        t.add_row(seg["name"], f"{seg['size']:,}", seg["rule"])
    console.print(t)
    console.print(f"[bold]4. Offers[/]: {', '.join(result.offers)} (see `tactica offers list`).\n")
    with store.session() as s:
        prof = segments.profile(store, s, "young-savers", top=6)
        ov = segments.overlap(s, "young-savers", "reachable-by-sms")
    console.rule("Profile of young-savers")
    print_profile(prof)
    console.print(
        f"\nOverlap young-savers × reachable-by-sms: {ov['both']:,} in both, "
        f"{ov['only_a']:,} young savers we cannot text."
    )
    from tactica.services.demo import web_login

    name, password = web_login(store)
    if _run_demo_program(store, result.program):
        _dispatch_demo(store)
        _replies_demo(store)
        _events_demo(store)
        _plan_demo(store)
    console.rule("The web application")
    console.print(
        "Run [bold]tactica serve[/], open [bold]http://127.0.0.1:8000/[/] and sign in as "
        f"[bold]{name}[/] with the password [bold]{password}[/] (a new one each quickstart): "
        "the dashboard shows the run above, day by day, per campaign, channel and offer."
    )
    console.print(
        "\nNext: [bold]tactica runs show RUN[/], [bold]tactica responses list --review[/], "
        "[bold]tactica events figures[/], "
        "[bold]tactica explain --run RUN --customer ID[/], "
        "[bold]tactica export[/] (the program as YAML), "
        '[bold]tactica segments create NAME --rule "..."[/], '
        "[bold]tactica users create admin --role admin[/], and the API "
        "at http://127.0.0.1:8000/docs"
    )


def _run_demo_program(store: Store, program: str) -> bool:
    """Run the demo program and show its funnel and one customer's explanation.

    True when the run queued contacts (there is something to dispatch).
    """
    from tactica.cli.runs import funnel_table
    from tactica.services import explain, runs

    console.rule(f"5. Program {program}: run it")
    done = runs.run_program(store, program, actor=ACTOR)
    if done is None or done.run_id is None:
        return False
    console.print(funnel_table(done.funnel, f"{program}: run {done.run_id} {done.status}"))
    console.print(
        f"Run {done.run_id}: {done.contacts:,} contacts queued, {done.held_out:,} held out "
        f"as control groups, cost {done.cost:,.2f}. Run it again and the contact policy "
        "stops most of them: they were just contacted."
    )
    with store.session() as s:
        someone = s.scalar(
            sa.select(Contact.customer_id)
            .where(Contact.run_id == done.run_id, Contact.status == "queued")
            .order_by(Contact.customer_id)
            .limit(1)
        )
    if someone is None:
        return False
    e = explain.explain_customer(store, someone, run_id=done.run_id)
    chosen = next((c for c in e.campaigns if c.contacted), None)
    if chosen is not None:
        console.print(
            f"\nWhy {someone}? [bold]tactica explain --run {done.run_id} --customer {someone}[/]:"
        )
        console.print(f"  {chosen.campaign}: {chosen.outcome}", highlight=False)
        for st in chosen.steps:
            mark = {True: "pass", False: "fail", None: "info"}[st.passed]
            console.print(f"    {mark}  {st.name}: {st.detail}", highlight=False)
    return True


def _dispatch_demo(store: Store) -> None:
    """Send the run's contacts to a local SMS gateway and SMTP server, and show them."""
    from tactica.services.demo import dispatch_demo

    settings = get_settings()
    console.rule("6. Dispatch: send them")
    console.print(
        "Starting a local SMS gateway and a local SMTP server, and sending every queued "
        "contact through them (templates in each customer's language, quiet hours, "
        "retries, an unsubscribe link in every e-mail)..."
    )
    d = dispatch_demo(store, settings.secret, settings.public_url)
    sent, failed = sum(d.sent.values()), sum(d.failed.values())
    console.print(
        f"Sent {sent:,} messages in {d.seconds:.1f} s ({failed:,} failed): the gateway took "
        f"{d.sms_received:,} SMS and the SMTP server {d.emails_received:,} e-mails."
    )
    if d.sample_sms:
        console.print(f"  an SMS:    {d.sample_sms}", highlight=False)
    if d.sample_email_subject:
        console.print(f"  an e-mail: {d.sample_email_subject}", highlight=False)
        for line in d.sample_email_body.strip().splitlines():
            console.print(f"             {line}", highlight=False)
    console.print(
        "See [bold]tactica outbox status[/] and [bold]tactica outbox failed[/]. The demo's "
        "channels are left disabled (their peers are gone); configure real ones with "
        "[bold]tactica channels add[/] and run [bold]tactica dispatch[/]."
    )


def _replies_demo(store: Store) -> None:
    """Customers answer the SMS in three languages; show what their replies led to."""
    from tactica.services.demo import replies_demo

    console.rule("7. Replies: customers answer")
    console.print(
        "Texted customers answer through the local SMS gateway, which posts their replies "
        "(signed) to Tactica's API: each is matched to the SMS it answers, read in its "
        "language and acted on..."
    )
    d = replies_demo(store, get_settings().secret)
    if not d.sent:
        console.print("Nobody was texted, so nobody answers.")
        return
    for customer, text, outcome, result in d.samples:
        console.print(
            f"  {customer:>8}  {text!r:<28} {outcome:<9} → {result.replace('_', ' ')}",
            highlight=False,
        )
    t = d.taken
    reps = ", ".join(f"{rep} {n}" for rep, n in d.leads_by_rep.items()) or "none"
    console.print(
        f"{d.sent} replies: [bold]{t.get('orders', 0)} orders[/] "
        f"(worth {d.order_total:,.2f}), [bold]{t.get('leads', 0)} leads[/] for sales ({reps}), "
        f"[bold]{t.get('opt_outs', 0)} opt-outs[/] — on the opt_out list already, so the next "
        f"run leaves them out ('opted out') — and {t.get('review', 0)} to review."
    )
    console.print(
        "See [bold]tactica responses list[/], [bold]tactica responses correct ID OUTCOME[/] "
        "for the review queue, and [bold]tactica responses classify TEXT[/] to test the rules."
    )


def _plan_demo(store: Store) -> None:
    """The year's goals for the teams, and how the demo's records measure up to them."""
    from datetime import UTC, datetime

    from tactica.cli.plans import show_actions, show_plan
    from tactica.services.demo import plan_demo

    console.rule("9. The plan: goals against what happened, and who does what by when")
    today = datetime.now(UTC).date()
    rows, actions = plan_demo(store, today)
    console.print(
        "Teams marketing and sales, the year's goals, a market size and the plans broken "
        "into actions, applied from a YAML file like the program (see docs/plans.md); every "
        "actual is computed from the contacts, replies, orders and leads recorded above."
    )
    show_plan(rows, f"Plan against actual, {today.year}, as of {today.isoformat()}")
    show_actions(actions, f"This month's actions, as of {today.isoformat()}", with_plan=False)
    console.print(
        "See [bold]tactica plan show[/], [bold]tactica plan plans[/] (the brand plan has no "
        "actions yet: a slogan), [bold]tactica plan actions[/], the Plan and Actions pages "
        "of the web application; record progress with [bold]tactica plan progress[/]."
    )


def _events_demo(store: Store) -> None:
    """Salaries are paid: events decided in real time by the triggered campaign."""
    from tactica.services.demo import events_demo

    console.rule("8. Events: decided as they happen")
    console.print(
        "The bank's core system posts salary_paid events to the API (a token of role "
        "integration); the triggered campaign salary-saver decides each one at once, "
        "under the same contact policy as the run..."
    )
    d = events_demo(store, get_settings().secret)
    for _, customer, amount, line in d.samples:
        console.print(
            f"  {customer:>14}  {amount:>8,.0f}  {line.split('/', 1)[-1]}", highlight=False
        )
    said = ", ".join(f"{n} {k}" for k, n in sorted(d.by_outcome.items(), key=lambda kv: -kv[1]))
    console.print(
        f"{d.sent} events: {d.accepted} taken ({said}), {d.duplicates} sent twice and taken "
        f"once; [bold]{d.contacts} contacts[/] queued for dispatch, each decided in "
        f"{d.p50_ms:.1f} ms (median; slowest {d.max_ms:.1f} ms) from its arrival."
    )
    console.print(
        "See [bold]tactica events list[/], [bold]tactica events figures[/] and "
        "[bold]tactica explain --event ID[/]."
    )
