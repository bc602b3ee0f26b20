"""Contact policy semantics: caps, gaps, repeats, VIP, ledger statuses, arbitration order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tactica.domain.policy import (
    Calendar,
    Candidate,
    ContactPolicy,
    ContactStatus,
    FrequencyCap,
    LedgerEntry,
    MinGap,
    NoRepeatOffer,
    Scope,
    check,
    decide,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
GLOBAL_30D = FrequencyCap("global-30d", max_contacts=3, days=30)


def entry(days_ago: float, channel: str = "sms", offer: str = "A", **kw: object) -> LedgerEntry:
    return LedgerEntry(
        at=NOW - timedelta(days=days_ago),
        channel=channel,
        campaign=str(kw.get("campaign", "c")),
        campaign_kind=str(kw.get("kind", "outbound")),
        offer=offer,
        status=kw.get("status", ContactStatus.SENT),  # type: ignore[arg-type]
    )


def cand(campaign: str = "x", offer: str = "B", channel: str = "sms", **kw: object) -> Candidate:
    return Candidate(
        campaign=campaign,
        campaign_kind=str(kw.get("kind", "outbound")),
        offer=offer,
        channel=channel,
        priority=int(kw.get("priority", 0)),  # type: ignore[call-overload]
        score=float(kw.get("score", 1.0)),  # type: ignore[arg-type]
        value=Decimal(str(kw.get("value", "1"))),
    )


def test_the_cap_message_a_marketer_reads() -> None:
    ledger = [entry(1), entry(5), entry(29.5)]
    (out,) = decide([cand()], ledger, ContactPolicy((GLOBAL_30D,)), NOW)
    assert not out.selected
    assert out.explain() == (
        "excluded: contacted 3 times in the last 30 days, limit 3 (policy 'global-30d')"
    )


def test_rolling_window_edges_and_statuses() -> None:
    policy = ContactPolicy((GLOBAL_30D,))
    # 30 days ago exactly is outside the window; failed contacts never count.
    ledger = [
        entry(1),
        entry(2),
        entry(30),
        entry(3, status=ContactStatus.FAILED),
        entry(4, status=ContactStatus.FAILED),
    ]
    assert decide([cand()], ledger, policy, NOW)[0].selected
    # Queued and scheduled contacts count exactly like sent ones, future ones included.
    ledger += [
        LedgerEntry(
            NOW + timedelta(hours=5), "email", "c", "outbound", "A", ContactStatus.SCHEDULED
        )
    ]
    assert not decide([cand()], ledger, policy, NOW)[0].selected


def test_scopes_count_only_their_contacts() -> None:
    sms_week = FrequencyCap("sms-week", 1, days=7, scope=Scope(channel="sms"))
    ledger = [entry(1, channel="sms")]
    policy = ContactPolicy((sms_week,))
    assert not decide([cand(channel="sms")], ledger, policy, NOW)[0].selected
    assert decide([cand(channel="email")], ledger, policy, NOW)[0].selected
    triggered = FrequencyCap("trig", 1, days=7, scope=Scope(campaign_kind="triggered"))
    assert decide([cand()], [entry(1, kind="triggered")], ContactPolicy((triggered,)), NOW)[
        0
    ].selected


def test_calendar_week_is_the_customers_week() -> None:
    cap = FrequencyCap("one-a-week", 1, calendar=Calendar.WEEK)
    monday_noon_utc = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday
    sunday_late = LedgerEntry(
        datetime(2026, 11, 23, 3, 30, tzinfo=UTC), "sms", "c", "outbound", "A", ContactStatus.SENT
    )
    policy = ContactPolicy((cap,))
    # 03:30 UTC Monday is still Sunday evening in New York: last week there, this week in Lisbon.
    ny = decide([cand()], [sunday_late], policy, monday_noon_utc, timezone="America/New_York")
    lisbon = decide([cand()], [sunday_late], policy, monday_noon_utc, timezone="Europe/Lisbon")
    assert ny[0].selected
    assert not lisbon[0].selected


def test_min_gap_and_no_repeat() -> None:
    gap = MinGap("48h", hours=48)
    assert not decide([cand()], [entry(1.5)], ContactPolicy((gap,)), NOW)[0].selected
    assert decide([cand()], [entry(2.5)], ContactPolicy((gap,)), NOW)[0].selected
    repeat = NoRepeatOffer("no-repeat-14d", days=14)
    out = decide([cand(offer="A")], [entry(10, offer="A")], ContactPolicy((repeat,)), NOW)
    assert out[0].explain() == (
        "excluded: offer A already made 1 time(s) within 14 days (policy 'no-repeat-14d')"
    )
    assert decide([cand(offer="A")], [entry(15, offer="A")], ContactPolicy((repeat,)), NOW)[
        0
    ].selected


def test_vip_bypasses_frequency_rules_but_not_repeats() -> None:
    policy = ContactPolicy((GLOBAL_30D, MinGap("gap", 24), NoRepeatOffer("rep", 14)))
    ledger = [entry(0.1), entry(1), entry(2), entry(3)]
    assert not decide([cand()], ledger, policy, NOW)[0].selected
    assert decide([cand()], ledger, policy, NOW, vip=True)[0].selected
    assert not decide([cand(offer="A")], ledger, policy, NOW, vip=True)[0].selected


def test_arbitration_order_and_per_run_limit() -> None:
    cands = [
        cand("low", priority=1, score=9, value=100),
        cand("high-a", priority=5, score=1, value=10),
        cand("high-b", priority=5, score=2, value=10),
        cand("high-b", offer="C", priority=5, score=3, value=10),
    ]
    out = decide(cands, [], ContactPolicy(per_run=2), NOW)
    chosen = [(o.candidate.campaign, o.candidate.offer) for o in out if o.selected]
    # Priority first, then score × value; one offer per campaign; two per run.
    assert chosen == [("high-b", "C"), ("high-a", "B")]
    reasons = {(o.candidate.campaign, o.candidate.offer): o.reason for o in out if not o.selected}
    assert reasons == {
        ("high-b", "B"): "arbitration: campaign already chosen a better offer",
        ("low", "B"): "arbitration: 2 per run already chosen",
    }


def test_a_blocked_best_falls_back_to_the_next_best() -> None:
    sms_cap = FrequencyCap("sms-1", 1, days=7, scope=Scope(channel="sms"))
    cands = [cand("best", channel="sms", priority=9), cand("next", channel="email", priority=1)]
    out = decide(cands, [entry(1)], ContactPolicy((sms_cap,)), NOW)
    assert [o.candidate.campaign for o in out if o.selected] == ["next"]


def test_contacts_chosen_in_the_run_count_against_the_cap() -> None:
    cap = FrequencyCap("two", 2, days=30)
    cands = [cand(f"c{i}", priority=i) for i in range(5)]
    out = decide(cands, [entry(3)], ContactPolicy((cap,), per_run=5), NOW)
    assert [o.candidate.campaign for o in out if o.selected] == ["c4"]
    assert check(cands[0], [entry(3)], ContactPolicy((cap,)), NOW)[0].passed
