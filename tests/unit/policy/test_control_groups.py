"""Control groups: the share asked for, and campaigns' groups independent of each other."""

from __future__ import annotations

import itertools

from tactica.domain.control import BUCKETS, control_bucket, is_held_out

IDS = [f"c{i}" for i in range(20_000)]
CAMPAIGNS = [f"k{i}" for i in range(12)] + ["spring-sms", "spring-email", "Winter 2026"]


def test_a_campaign_holds_out_the_share_it_asks_for() -> None:
    for campaign in CAMPAIGNS:
        held = sum(is_held_out(c, campaign, 0.1) for c in IDS)
        assert 0.09 < held / len(IDS) < 0.11, campaign
    assert all(0 <= control_bucket(c, "k0") < BUCKETS for c in IDS[:1000])


def test_two_campaigns_hold_out_the_same_customer_only_by_chance() -> None:
    groups = {k: {c for c in IDS if is_held_out(c, k, 0.1)} for k in CAMPAIGNS}
    for a, b in itertools.combinations(CAMPAIGNS, 2):
        # Independent 10 % groups share 1 % of the customers (200 of 20,000).
        both = len(groups[a] & groups[b])
        assert 140 < both < 260, (a, b, both)


def test_a_customer_stays_in_a_campaigns_group_and_shares_grow_it() -> None:
    small = {c for c in IDS if is_held_out(c, "k1", 0.05)}
    large = {c for c in IDS if is_held_out(c, "k1", 0.2)}
    assert small < large
    assert small == {c for c in IDS if is_held_out(c, "k1", 0.05)}
