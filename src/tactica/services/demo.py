"""The demo workspace ``tactica quickstart`` builds: a real bank's customers, enriched with
contact points and consents, segmented, with offers and special lists.

Every step goes through the same services a user calls, so the demo shows the
product as it is, and each run leaves the workspace in the same state.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tactica.errors import NotFound
from tactica.services import as_code, lists, offers, segments
from tactica.services.importing import ImportReport, import_customers
from tactica.store.db import Store
from tactica.store.models import ChannelConfig

ACTOR = "quickstart"

#: Segments the demo builds: one per way of segmenting, plus reachability.
SEGMENTS: list[tuple[str, str, str]] = [
    ("young-savers", "age < 30 and loan = 'no'", "Demographic: under 30 without a loan"),
    ("retirees", "job = 'retired' or age >= 65", "Demographic: retired or 65+"),
    ("lisbon", "region = 'lisboa'", "Geographic: Lisbon region"),
    ("never-contacted", "pdays is null and previous = 0", "Behavioural: no earlier campaign"),
    ("converters", "y = 1", "Behavioural: subscribed a deposit"),
    (
        "reachable-by-sms",
        "consent_sms and msisdn is not null and not on_list('opt_out')",
        "Has a mobile number, agreed to SMS, not opted out",
    ),
    (
        "young-reachable",
        "in_segment('young-savers') and in_segment('reachable-by-sms')",
        "Young savers we may text",
    ),
]

OFFERS: list[offers.OfferInput] = [
    offers.OfferInput(
        code="TD-12M",
        name="12-month term deposit at 3.1%",
        product="term deposit",
        price=Decimal("0"),
        value=Decimal("180"),
        margin=Decimal("95"),
        discount_max=Decimal("0"),
        eligibility="age >= 18 and default != 'yes'",
    ),
    offers.OfferInput(
        code="PL-STARTER",
        name="Starter personal loan",
        product="personal loan",
        price=Decimal("49"),
        value=Decimal("420"),
        margin=Decimal("260"),
        discount_min=Decimal("0"),
        discount_max=Decimal("15"),
        eligibility="age between 21 and 35 and loan = 'no' and default = 'no'",
    ),
    offers.OfferInput(
        code="SILVER-CARD",
        name="Silver card with travel insurance",
        product="credit card",
        price=Decimal("25"),
        value=Decimal("150"),
        margin=Decimal("70"),
        eligibility="age >= 55",
    ),
]

_REGIONS = [  # NUTS II regions of Portugal, roughly by population
    ("norte", 35, "Europe/Lisbon"),
    ("centro", 22, "Europe/Lisbon"),
    ("lisboa", 28, "Europe/Lisbon"),
    ("alentejo", 7, "Europe/Lisbon"),
    ("algarve", 4, "Europe/Lisbon"),
    ("acores", 2, "Atlantic/Azores"),
    ("madeira", 2, "Atlantic/Madeira"),
]


@dataclass
class DemoResult:
    """What the demo built."""

    bank: ImportReport
    contacts: ImportReport
    segments: list[dict[str, Any]] = field(default_factory=list)
    offers: list[str] = field(default_factory=list)
    opted_out: int = 0
    program: str = ""


def program_file() -> Path:
    """The demo program (a differentiated strategy) and its contact policy, as YAML."""
    return Path(str(resources.files("tactica.demo") / "program.yaml"))


def bank_file() -> Path:
    """The packaged bank-marketing file."""
    return Path(str(resources.files("tactica.demo") / "bank-marketing.csv.gz"))


def bank_mapping() -> Path:
    """The packaged mapping file for the bank file."""
    return Path(str(resources.files("tactica.demo") / "bank-mapping.yaml"))


def _draw(customer_id: str, salt: str) -> int:
    # A stable pseudo-random number per customer, so every run builds the same demo.
    return int.from_bytes(hashlib.blake2b(f"{salt}:{customer_id}".encode(), digest_size=8).digest())


def _region(pick: int) -> tuple[str, str]:
    # Walk the cumulative weights: pick falls in exactly one region's band.
    for region, weight, tz in _REGIONS:
        if pick < weight:
            return region, tz
        pick -= weight
    return _REGIONS[-1][0], _REGIONS[-1][2]


def write_contacts(ids: list[str], path: Path) -> None:
    """Contact points, consents, region, timezone and language for the bank's customers.

    The bank file carries none of these (its customers were called from a
    separate list), so the demo makes plausible ones, the same on every run.
    """
    total = sum(w for _r, w, _tz in _REGIONS)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "id",
                "msisdn",
                "email",
                "consent_sms",
                "consent_email",
                "consent_phone",
                "region",
                "timezone",
                "language",
            ]
        )
        for cid in ids:
            r = _draw(cid, "contact")
            has_mobile = r % 100 < 88
            has_email = (r >> 8) % 100 < 62
            region, tz = _region((r >> 16) % total)
            msisdn = f"+3519{(r >> 24) % 10**8:08d}" if has_mobile else ""
            email = f"{cid.replace('-', '.')}@example.pt" if has_email else ""
            w.writerow(
                [
                    cid,
                    msisdn,
                    email,
                    "true" if has_mobile and (r >> 40) % 100 < 72 else "false",
                    "true" if has_email and (r >> 48) % 100 < 55 else "false",
                    "true" if has_mobile and (r >> 4) % 100 < 81 else "false",
                    region,
                    tz,
                    "en" if (r >> 56) % 100 < 6 else "pt",
                ]
            )


def build(
    store: Store, workspace: Path, progress: Callable[[str, int, int], None] | None = None
) -> DemoResult:
    """Import, enrich, segment, add offers and opt-outs; safe to run again."""
    store.upgrade()
    bank = import_customers(
        store, bank_file(), mapping=bank_mapping(), actor=ACTOR, progress=progress
    )
    with store.session() as s:
        ids = list(
            s.scalars(sa.text("SELECT id FROM customers WHERE id LIKE 'bank-%' ORDER BY id"))
        )
    contacts_file = workspace / "demo-contacts.csv"
    write_contacts(ids, contacts_file)
    contacts = import_customers(
        store,
        contacts_file,
        id_column="id",
        actor=ACTOR,
        progress=progress,
    )
    result = DemoResult(bank=bank, contacts=contacts)
    with store.session() as s:
        # Customers who replied STOP to an earlier SMS: every 97th reachable one.
        stop = [cid for cid in ids if _draw(cid, "stop") % 97 == 0]
        lists.add_entries(
            s,
            "opt_out",
            [lists.EntryInput(cid, "sms", "sms-reply", "replied STOP") for cid in stop],
            actor=ACTOR,
        )
        result.opted_out = len(stop)
        vip = [cid for cid in ids if _draw(cid, "vip") % 500 == 0]
        lists.add_entries(
            s,
            "vip",
            [lists.EntryInput(cid, "all", "relationship-manager") for cid in vip],
            actor=ACTOR,
        )
        for name, rule, description in SEGMENTS:
            try:
                segments.get_segment(s, name)
                segments.update_segment(s, name, rule=rule, description=description, actor=ACTOR)
            except NotFound:
                segments.create_segment(s, name, rule=rule, description=description, actor=ACTOR)
        for offer in OFFERS:
            try:
                offers.get_offer(s, offer.code)
            except NotFound:
                offers.create_offer(s, offer, actor=ACTOR)
            result.offers.append(offer.code)
        applied = as_code.apply_file(s, program_file(), actor=ACTOR)
        result.program = next(a.name for a in applied if a.kind == "Program")
        s.commit()
        for name, rule, description in SEGMENTS:
            result.segments.append(
                {
                    "name": name,
                    "rule": rule,
                    "description": description,
                    "size": segments.segment_size(s, name),
                }
            )
    return result


@dataclass
class DispatchDemo:
    """What dispatching the demo run to the local peers delivered."""

    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    sms_received: int = 0
    emails_received: int = 0
    sample_sms: str = ""
    sample_email_subject: str = ""
    sample_email_body: str = ""
    seconds: float = 0.0


#: The demo's channels: they point at peers that live only while the quickstart runs,
#: so they are left disabled afterwards.
DEMO_SMS, DEMO_EMAIL = "demo-sms-gateway", "demo-smtp"


def dispatch_demo(store: Store, secret: str, public_url: str) -> DispatchDemo:
    """Send the queued contacts to a local SMS gateway and SMTP server started here."""
    import time

    from tactica.channels.local_peers import LocalSmsGateway, LocalSmtpSink
    from tactica.domain.channel_config import ChannelSpec
    from tactica.services import channel_configs, dispatch

    out = DispatchDemo()
    with LocalSmsGateway(api_key="demo-key") as gateway, LocalSmtpSink() as smtp:
        with store.session() as s:
            for spec in (
                ChannelSpec.for_kind(
                    DEMO_SMS,
                    "sms_http",
                    {"url": gateway.url, "api_key": "demo-key"},
                    rate_per_second=2000.0,
                    cost_per_message=Decimal("0.04"),
                ),
                ChannelSpec.for_kind(
                    DEMO_EMAIL,
                    "smtp",
                    {"host": smtp.host, "port": smtp.port, "sender": "offers@demo-bank.example"},
                ),
            ):
                channel_configs.save_channel(s, spec, actor=ACTOR)
            s.commit()
        started = time.perf_counter()
        try:
            totals = dispatch.run_dispatch(
                store,
                dispatch.WorkerOptions(batch_size=200, secret=secret, public_url=public_url),
                names=[DEMO_SMS, DEMO_EMAIL],
                drain=True,
            )
        finally:
            with store.session() as s:
                s.execute(
                    sa.update(ChannelConfig)
                    .where(ChannelConfig.name.in_([DEMO_SMS, DEMO_EMAIL]))
                    .values(enabled=False)
                )
                s.commit()
        out.seconds = time.perf_counter() - started
        for name, t in totals.items():
            out.sent[name], out.failed[name] = t.sent, t.failed
        out.sms_received = len(gateway.messages)
        out.emails_received = len(smtp.messages)
        if gateway.messages:
            out.sample_sms = str(gateway.messages[0]["text"])
        if smtp.messages:
            mail = smtp.messages[0]
            out.sample_email_subject = str(mail["Subject"])
            body = mail.get_body(("plain",))
            out.sample_email_body = body.get_content() if body is not None else ""
    return out


#: What the demo's handsets answer, in English, Chinese and Russian.
DEMO_REPLIES: tuple[str, ...] = (
    "YES",
    "Yes please, sign me up",
    "Tell me more",
    "STOP",
    "好的",
    "详细介绍一下",
    "退订",
    "Да, подключите",
    "Расскажите подробнее",
    "СТОП",
    "who is this?",
)
DEMO_REPS: tuple[tuple[str, str], ...] = (("rosa", "lisboa"), ("tiago", "norte"))


@dataclass
class RepliesDemo:
    """What the demo's replies led to."""

    sent: int = 0
    taken: dict[str, int] = field(default_factory=dict)
    samples: list[tuple[str, str, str, str]] = field(default_factory=list)
    leads_by_rep: dict[str, int] = field(default_factory=dict)
    order_total: Decimal = Decimal(0)


def replies_demo(store: Store, secret: str, *, replies: int = 66) -> RepliesDemo:
    """Customers texted by the demo run answer through a local SMS gateway, over HTTP.

    The API is served on a free local port; the gateway signs each batch with the
    demo channel's inbound token, as a real gateway would. Two sales reps are added so
    the leads have someone to go to.
    """
    import secrets as _secrets

    from tactica.api.app import create_app
    from tactica.api.local_server import serving
    from tactica.channels.local_peers import LocalSmsGateway
    from tactica.config import Settings
    from tactica.store.customer_table import customer_table, load_schema
    from tactica.store.models import Contact, Lead, Order, Response, SalesRep

    token = _secrets.token_urlsafe(24)
    out = RepliesDemo()
    with store.session() as s:
        config = s.scalar(sa.select(ChannelConfig).where(ChannelConfig.name == DEMO_SMS))
        if config is None:
            raise NotFound(f"no channel {DEMO_SMS!r}: dispatch the demo run first")
        config.settings = {**(config.settings or {}), "inbound_token": token}
        for name, territory in DEMO_REPS:
            if s.scalar(sa.select(SalesRep.id).where(SalesRep.username == name)) is None:
                s.add(SalesRep(username=name, territory=territory, skills=[], capacity=200))
        table = customer_table(load_schema(s))
        texted = s.execute(
            sa.select(Contact.customer_id, table.c.msisdn)
            .join(table, table.c.id == Contact.customer_id)
            .where(Contact.channel == "sms", Contact.status.in_(("sent", "delivered")))
            .order_by(Contact.id.desc())
            .limit(replies)
        ).all()
        s.commit()
    if not texted:
        return out
    app = create_app(Settings(secret_key=secret), store)
    with serving(app, log_level="error") as base:
        url = f"{base}/responses/inbound/{DEMO_SMS}"
        with LocalSmsGateway(replies_url=url, replies_secret=token) as gateway:
            items = [
                (str(msisdn), DEMO_REPLIES[i % len(DEMO_REPLIES)], None)
                for i, (_, msisdn) in enumerate(texted)
            ]
            got = gateway.replies(items)
            got.raise_for_status()
            out.sent = len(items)
            out.taken = {k: int(v) for k, v in got.json().items()}
    with store.session() as s:
        rows = s.execute(
            sa.select(Response.customer_id, Response.text, Response.outcome, Response.result)
            .order_by(Response.id.desc())
            .limit(len(DEMO_REPLIES))
        ).all()
        out.samples = [(c or "?", t, o, r) for c, t, o, r in reversed(rows)]
        out.leads_by_rep = {
            str(rep): int(n)
            for rep, n in s.execute(
                sa.select(Lead.rep, sa.func.count()).group_by(Lead.rep).order_by(Lead.rep)
            )
        }
        out.order_total = Decimal(str(s.scalar(sa.select(sa.func.sum(Order.amount))) or 0))
    return out


#: The demo's event feed: the bank's core system, a machine allowed to send events only.
DEMO_FEED = "core-banking"


@dataclass
class EventsDemo:
    """What the demo's salary events led to."""

    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    unattributed: int = 0
    contacts: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    #: (event id, customer, amount, what happened) for a few events of each kind
    samples: list[tuple[str, str, float, str]] = field(default_factory=list)
    p50_ms: float = 0.0
    max_ms: float = 0.0


def _salary(customer: str, low: int, high: int) -> float:
    return float(low + _draw(customer, "salary") % (high - low))


def events_demo(store: Store, secret: str) -> EventsDemo:
    """Salaries are paid: the bank's core system posts ``salary_paid`` events over HTTP.

    A short, fixed stream: customers the run just texted (the contact policy stops
    them), customers never contacted (contacted now, by SMS or e-mail), small salaries
    (the campaign's rule says no), customers who opted out of SMS (e-mail, if they
    have it), a customer the bank knows and Tactica does not (kept, unattributed), and
    one event sent twice (taken once). Sent with a token of role ``integration``.
    """
    from datetime import UTC, datetime, timedelta

    import httpx

    from tactica.api.app import create_app
    from tactica.api.local_server import serving
    from tactica.config import Settings
    from tactica.services import users
    from tactica.store.customer_table import customer_table, load_schema
    from tactica.store.models import Contact, EventRow, SpecialListEntry, User

    out = EventsDemo()
    with store.session() as s:
        feed = s.scalar(sa.select(User).where(User.username == DEMO_FEED))
        if feed is None:
            feed = users.create_user(s, DEMO_FEED, secrets_password(), "integration", actor=ACTOR)
        token, _ = users.create_token(s, feed, name="quickstart", ttl_days=1, actor=ACTOR)
        table = customer_table(load_schema(s))
        contacted = sa.select(Contact.customer_id)
        texted = list(
            s.scalars(
                sa.select(Contact.customer_id)
                .where(Contact.channel == "sms", Contact.status.in_(("sent", "delivered")))
                .order_by(Contact.customer_id)
                .limit(6)
            )
        )
        fresh = list(
            s.scalars(
                sa.select(table.c.id)
                .where(
                    table.c.age >= 25,
                    sa.func.coalesce(table.c.y, 0) == 0,
                    table.c.id.not_in(contacted),
                    table.c.id.not_in(sa.select(SpecialListEntry.customer_id)),
                )
                .order_by(table.c.id)
                .limit(14)
            )
        )
        opted = list(
            s.scalars(
                sa.select(SpecialListEntry.customer_id)
                .where(
                    SpecialListEntry.channel == "sms",
                    SpecialListEntry.customer_id.not_in(contacted),
                )
                .order_by(SpecialListEntry.customer_id)
                .limit(3)
            )
        )
        s.commit()
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%d%H%M%S")
    plan: list[tuple[str, float]] = (
        [(c, _salary(c, 1500, 4000)) for c in texted]
        + [(c, _salary(c, 1500, 4000)) for c in fresh[:10]]
        + [(c, _salary(c, 500, 1400)) for c in fresh[10:]]
        + [(c, _salary(c, 1500, 4000)) for c in opted]
        + [("not-a-customer", 2500.0)]
    )
    events = [
        {
            "id": f"salary-{stamp}-{k:03d}",
            "type": "salary_paid",
            "customer_id": customer,
            "time": (now - timedelta(seconds=len(plan) - k)).isoformat(),
            "payload": {"amount": amount, "employer": "Demo Employer"},
        }
        for k, (customer, amount) in enumerate(plan)
    ]
    events.append(dict(events[0]))  # the core system retries one: taken once
    app = create_app(Settings(secret_key=secret), store)
    with serving(app, log_level="error") as base, httpx.Client(base_url=base) as http:
        headers = {"Authorization": f"Bearer {token}"}
        # In small batches, as a feed sends them when they happen.
        for start in range(0, len(events), 5):
            r = http.post("/events", json={"events": events[start : start + 5]}, headers=headers)
            r.raise_for_status()
            body = r.json()
            out.accepted += body["accepted"]
            out.duplicates += len(body["duplicates"])
            out.unattributed += len(body["unattributed"])
            out.contacts += body["contacts"]
            for d in body["decided"]:
                line = d["decisions"][0] if d["decisions"] else d["status"]
                kind = _kind(d["status"], line)
                out.by_outcome[kind] = out.by_outcome.get(kind, 0) + 1
                if sum(1 for x in out.samples if _kind("", x[3]) == kind) < 2:
                    amount = events[start + d["index"]]["payload"]["amount"]
                    out.samples.append((d["id"], d["customer_id"], amount, line))
    out.sent = len(events)
    with store.session() as s:
        waits = sorted(
            (r.decided_at - r.received_at).total_seconds() * 1000
            for r in s.scalars(
                sa.select(EventRow).where(EventRow.event_id.like(f"salary-{stamp}-%"))
            )
        )
    if waits:
        out.p50_ms, out.max_ms = waits[len(waits) // 2], waits[-1]
    return out


def _kind(status: str, line: str) -> str:
    """What happened to a demo event, in a word: contacted, policy, not eligible..."""
    if status in ("unattributed", "no_match"):
        return status
    said = line.split(": ")[1] if ": " in line else line
    return "contacted" if said.startswith("contacted") else said


def secrets_password() -> str:
    """A password nobody knows, for a machine account that signs in with tokens only."""
    import secrets

    return secrets.token_urlsafe(32)


#: The demo workspace's person: an admin who signs in to the web application.
DEMO_WEB_USER = "demo"


def web_login(store: Store) -> tuple[str, str]:
    """A username and a fresh password to sign in to the web application as an admin.

    The demo user is made the first time and given a new password every time (it is
    printed, so it is only as secret as the terminal that ran the quickstart).
    """
    import secrets

    from tactica.services import users
    from tactica.store.models import User

    password = secrets.token_urlsafe(9)
    with store.session() as s:
        if s.scalar(sa.select(User.id).where(User.username == DEMO_WEB_USER)) is None:
            users.create_user(
                s, DEMO_WEB_USER, password, "admin", full_name="Demo admin", actor=ACTOR
            )
        else:
            users.update_user(s, DEMO_WEB_USER, password=password, active=True, actor=ACTOR)
        s.commit()
    return DEMO_WEB_USER, password


def plan_file() -> Path:
    """The demo plan (teams and the year's goals) as YAML with period placeholders."""
    return Path(str(resources.files("tactica.demo") / "plan.yaml"))


def plan_demo(store: Store, today: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply the demo plan for ``today``'s year, quarter and month and record the month's
    first steps; (plan against actual, the month's actions as they stand).

    Needs the demo user (:func:`web_login`), who leads the teams.
    """
    from datetime import timedelta

    import yaml

    from tactica.domain.periods import PeriodKind, period_of
    from tactica.services import objectives, plans

    text = plan_file().read_text(encoding="utf-8")
    month = period_of(PeriodKind.MONTH, today)
    days = {
        "month_first": month.start.isoformat(),
        "month_last": (month.end - timedelta(days=1)).isoformat(),
        "today": today.isoformat(),
    }
    for key, value in days.items():
        text = text.replace("{" + key + "}", value)
    for key, kind in (
        ("year", PeriodKind.YEAR),
        ("quarter", PeriodKind.QUARTER),
        ("month", PeriodKind.MONTH),
    ):
        text = text.replace("{" + key + "}", period_of(kind, today).label)
    year = period_of(PeriodKind.YEAR, today).label
    with store.session() as s:
        as_code.apply_documents(s, list(yaml.safe_load_all(text)), source="plan.yaml", actor=ACTOR)
        plan = f"plan-{month.label}"
        steps = (("brief", "done", month.start), ("launch", "in_progress", today))
        for action, status, on in steps:
            if plans.get_action(s, plan, action).status == "committed":
                plans.move(
                    s, plan, action, status, username="demo", may_write=True, actor=ACTOR, on=on
                )
        s.commit()
        goals = [
            objectives.progress_view(p) for p in objectives.plan_vs_actual(s, year, today=today)
        ]
        return goals, plans.track(s, month, today)
