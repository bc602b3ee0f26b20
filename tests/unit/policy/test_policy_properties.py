"""Properties of the policy on random ledgers: no cap is ever exceeded, and the same
inputs always give the same contacts, whatever order the candidates come in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tactica.domain.policy import (
    Candidate,
    ContactPolicy,
    ContactStatus,
    FrequencyCap,
    LedgerEntry,
    MinGap,
    NoRepeatOffer,
    decide,
    in_window,
)
from tests.policy_strategies import CHANNELS, KINDS
from tests.policy_strategies import policies as policies_strategy

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OFFERS = ["A", "B", "C"]
policies = policies_strategy(4)
ledgers = st.lists(
    st.builds(
        LedgerEntry,
        at=st.integers(-90 * 24, 48).map(lambda h: NOW + timedelta(hours=h)),
        channel=st.sampled_from(CHANNELS),
        campaign=st.sampled_from(["p", "q"]),
        campaign_kind=st.sampled_from(KINDS),
        offer=st.sampled_from(OFFERS),
        status=st.sampled_from(list(ContactStatus)),
    ),
    max_size=12,
)
candidates = st.lists(
    st.builds(
        Candidate,
        campaign=st.sampled_from(["c1", "c2", "c3", "c4"]),
        campaign_kind=st.sampled_from(KINDS),
        offer=st.sampled_from(OFFERS),
        channel=st.sampled_from(CHANNELS),
        priority=st.integers(0, 3),
        score=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
        value=st.sampled_from([Decimal("0"), Decimal("10"), Decimal("25.5")]),
    ),
    max_size=8,
    unique_by=lambda c: (c.campaign, c.offer, c.channel),
)
zones = st.sampled_from([None, "Europe/Lisbon", "America/New_York", "Asia/Shanghai"])


def _selected_entries(outcomes: tuple) -> list[LedgerEntry]:  # type: ignore[type-arg]
    return [
        LedgerEntry(
            NOW,
            o.candidate.channel,
            o.candidate.campaign,
            o.candidate.campaign_kind,
            o.candidate.offer,
        )
        for o in outcomes
        if o.selected
    ]


@given(policies, ledgers, candidates, zones)
def test_no_cap_is_ever_exceeded_by_a_run(
    policy: ContactPolicy, ledger: list[LedgerEntry], cands: list[Candidate], tz: str | None
) -> None:
    out = decide(cands, ledger, policy, NOW, timezone=tz)
    chosen = _selected_entries(out)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz) if tz else None
    after = [e for e in ledger if e.status.counts] + chosen
    for rule in policy.rules:
        if isinstance(rule, FrequencyCap):
            in_scope_chosen = [e for e in chosen if rule.scope.covers(e.channel, e.campaign_kind)]
            if in_scope_chosen:
                n = sum(
                    1
                    for e in after
                    if rule.scope.covers(e.channel, e.campaign_kind)
                    and in_window(e.at, NOW, rule, zone)
                )
                assert n <= rule.max_contacts, (rule, n)
        elif isinstance(rule, MinGap) and rule.hours > 0:
            in_scope = [e for e in chosen if rule.scope.covers(e.channel, e.campaign_kind)]
            assert len(in_scope) <= 1
        elif isinstance(rule, NoRepeatOffer):
            for e in chosen:
                assert not any(
                    h.offer == e.offer and abs(h.at - NOW) < timedelta(days=rule.days)
                    for h in ledger
                    if h.status.counts
                )
    assert len(chosen) <= policy.per_run
    assert len({e.campaign for e in chosen}) == len(chosen)


@given(policies, ledgers, candidates, st.randoms(use_true_random=False))
def test_same_inputs_same_contacts_in_any_order(
    policy: ContactPolicy, ledger: list[LedgerEntry], cands: list[Candidate], rnd: object
) -> None:
    first = decide(cands, ledger, policy, NOW)
    shuffled = list(cands)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    again = decide(shuffled, list(reversed(ledger)), policy, NOW)
    assert first == again


@given(policies, ledgers, candidates)
def test_vip_is_never_stopped_by_a_cap_or_gap(
    policy: ContactPolicy, ledger: list[LedgerEntry], cands: list[Candidate]
) -> None:
    for o in decide(cands, ledger, policy, NOW, vip=True):
        assert all(v.passed for v in o.verdicts if v.rule in ("cap", "cal", "gap"))
