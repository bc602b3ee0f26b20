"""`tactica quickstart` builds the demo on each database, and again without duplicating it."""

from __future__ import annotations

import json
import re

from tactica.config import Settings
from tactica.errors import AuthenticationFailed
from tactica.services import users
from tactica.store.db import Store
from tests.conftest import Tactica


def _segment_sizes(out: str) -> dict[str, str]:
    section = out.split("3. Segments", 1)[1].split("Profile of", 1)[0]
    return dict(re.findall(r"│ ([a-z-]+)\s+│ ([\d,]+)\s+│", section))


def _signs_in(username: str, password: str) -> bool:
    """True when the workspace's store takes this username and password."""
    store = Store.from_settings(Settings())
    try:
        with store.session() as s:
            users.authenticate(s, username, password)
        return True
    except AuthenticationFailed:
        return False
    finally:
        store.dispose()


def test_quickstart_builds_the_demo_and_is_repeatable(tactica: Tactica) -> None:
    first = tactica("quickstart")
    assert first.code == 0, first.err
    assert "41,188 rows, 41,188 new, 0 changed, 0 unchanged" in first.out
    # Segment sizes on the real bank file: fixed by the data, whatever the database.
    sizes = _segment_sizes(first.out)
    assert sizes["young-savers"] == "4,658"
    assert sizes["retirees"] == "1,823"
    assert sizes["converters"] == "4,640"
    assert sizes["never-contacted"] == "35,563"
    assert "0 new, 41,188 changed, 0 unchanged (upsert by id)" in first.out
    assert "Profile of young-savers" in first.out
    # The demo program ran: a funnel per campaign, contacts queued, one customer explained.
    assert "autumn-offers: run 1 completed" in first.out
    assert re.search(r"Run 1: [\d,]+ contacts queued, [\d,]+ held out", first.out)
    assert "young-loans" in first.out and "deposits" in first.out
    assert "tactica explain --run 1 --customer bank-" in first.out
    # ... and its contacts went out through the local SMS gateway and SMTP server.
    queued = int(re.search(r"Run 1: ([\d,]+) contacts queued", first.out)[1].replace(",", ""))  # type: ignore[index]
    sent = re.search(
        r"Sent ([\d,]+) messages in [\d.]+ s \((\d+) failed\): the gateway took ([\d,]+) SMS "
        r"and the SMTP server ([\d,]+) e-mails",
        " ".join(first.out.split()),
    )
    assert sent is not None, first.out
    n, failed, sms, emails = (int(g.replace(",", "")) for g in sent.groups())
    assert n == queued and failed == 0 and sms + emails == n and sms > 0 and emails > 0
    assert "Banco Demo:" in first.out  # a Portuguese SMS from the demo's templates
    # Salary events, decided in real time: the contacts they made wait in the outbox
    # (the demo's channels are gone), and nothing else does.
    flat = " ".join(first.out.split())
    events = re.search(
        r"(\d+) events: (\d+) taken \((\d+) contacted, .*\), 1 sent twice and taken once; "
        r"(\d+) contacts queued for dispatch, each decided in [\d.]+ ms",
        flat,
    )
    assert events is not None, first.out
    sent_events, taken, contacted, made = (int(g) for g in events.groups())
    assert sent_events == taken + 1 and contacted == made > 0
    for said in ("policy (policy 'sms-week')", "not eligible: the campaign's rule", "unattributed"):
        assert said.split(" (")[0] in flat
    status = tactica("outbox", "status")
    pending = sum(
        int(line.split("│")[2]) for line in status.out.splitlines() if line.startswith("│")
    )
    assert status.code == 0 and pending == made
    figures = tactica("events", "figures")
    assert "salary-saver" in figures.out
    # Texted customers answered in three languages, through the gateway and the API.
    replies = re.search(
        r"(\d+) replies: (\d+) orders \(worth ([\d,.]+)\), (\d+) leads for sales "
        r"\(rosa \d+, tiago \d+\), (\d+) opt-outs .* and (\d+) to review",
        " ".join(first.out.split()),
    )
    assert replies is not None, first.out
    worth = float(replies.group(3).replace(",", ""))
    total, orders, leads, opt_outs, review = (
        int(g) for i, g in enumerate(replies.groups()) if i != 2
    )
    assert total == 66 and orders + leads + opt_outs + review == total
    assert min(orders, leads, opt_outs, review) > 0
    for said in ("'退订'", "opt_out   → opt out", "'Расскажите подробнее'", "interest  → lead"):
        assert said in first.out
    # The year's plan: its actuals are the records the demo made.
    assert "9. The plan: goals against what happened" in first.out
    plan = tactica("plan", "show", "--json")
    assert plan.code == 0, plan.err
    lines = {x["kpi"]: x for x in map(json.loads, re.findall(r"^\{.*?^\}", plan.out, re.S | re.M))}
    assert lines["revenue"]["actual"] == worth
    assert lines["leads"]["actual"] == leads
    assert lines["custom"]["actual"] is not None  # SMS replies per SMS sent
    assert lines["market_share"]["actual"] is not None
    assert lines["qualitative"]["status"] in ("in progress", "awaiting assessment")
    # The month's plan, broken into actions: one done, the program's run under way.
    said = " ".join(first.out.split())
    assert "This month's actions" in said and "done on time" in said, first.out
    sent = re.search(r"autumn-offers: ([\d,]+) sent", said)
    assert sent is not None and int(sent.group(1).replace(",", "")) > 0, first.out
    assert "needs owner, due_on, criteria" in said  # the draft
    slogans = " ".join(tactica("plan", "plans").out.split())
    assert re.search(r"brand-\d{4} \(brand, \d{4}\): a slogan, not a plan — no actions", slogans)
    queue = tactica("responses", "list", "--review")
    assert queue.code == 0 and "who is this?" in queue.out
    # The printed credentials open the web application (the same users as the API).
    login = re.search(r"sign in as demo with the password (\S+) ", " ".join(first.out.split()))
    assert login is not None, first.out
    assert _signs_in("demo", login.group(1))
    again = tactica("quickstart")
    assert again.code == 0, again.err
    assert "41,188 rows, 0 new, 0 changed, 41,188 unchanged" in again.out
    # The same segments, less the customers whose reply opted them out of SMS.
    now = _segment_sizes(again.out)
    reachable = int(sizes.pop("reachable-by-sms").replace(",", ""))
    assert int(now.pop("reachable-by-sms").replace(",", "")) == reachable - opt_outs
    young = (int(d.pop("young-reachable").replace(",", "")) for d in (now, sizes))
    assert next(young) <= next(young)
    assert now == sizes
    # Run again at once: the policy stops everyone the first run just contacted.
    assert "autumn-offers: run 2 completed" in again.out
    # A new password each time: the first one no longer signs in.
    assert not _signs_in("demo", login.group(1))
    assert "stopped by the contact policy" in again.out
    r = tactica("segments", "overlap", "young-savers", "reachable-by-sms")
    assert r.code == 0 and "both" in r.out
