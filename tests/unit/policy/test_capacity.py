"""Capacity limits, as the domain defines them: campaign, then channel day, then budget."""

from __future__ import annotations

from decimal import Decimal

from tactica.domain.capacity import (
    BudgetRoom,
    CampaignRoom,
    ChannelRoom,
    Chosen,
    Limits,
    allocate,
    campaign_room,
    money,
)


def chosen(cid: str, campaign: str = "k", channel: str = "sms", **kw: object) -> Chosen:
    return Chosen(cid, campaign, "O", channel, **kw)  # type: ignore[arg-type]


def kept(result: list[tuple[Chosen, str | None]]) -> list[str]:
    return [f"{c.customer_id}/{c.campaign}" for c, cut in result if cut is None]


def test_campaign_room_keeps_the_strongest_then_the_lowest_id() -> None:
    rows = [chosen("b", strength=1.0), chosen("a", strength=1.0), chosen("c", strength=5.0)]
    out = allocate(rows, Limits({"k": CampaignRoom(2, "campaign capacity 2 per run")}, {}))
    assert kept(out) == ["c/k", "a/k"]
    assert [cut for _, cut in out] == [None, None, "campaign capacity 2 per run"]


def test_priority_ranks_before_strength_across_campaigns_for_a_channel_day() -> None:
    rows = [
        chosen("a", "low", strength=99.0),
        chosen("b", "high", priority=5, strength=0.1),
        chosen("c", "high", priority=5, strength=0.2),
        chosen("d", "low", channel="email", strength=1.0),
    ]
    room = ChannelRoom("sms", per_day=5, used=3)
    out = allocate(rows, Limits({}, {"sms": room}))
    assert kept(out) == ["c/high", "b/high", "d/low"]
    assert dict((c.customer_id, cut) for c, cut in out)["a"] == (
        "channel sms daily capacity 5 (3 already decided today)"
    )


def test_a_contact_cut_later_does_not_give_its_place_back() -> None:
    # The campaign keeps a and b; the channel then has room for one; c never comes back.
    rows = [chosen("a", strength=3.0), chosen("b", strength=2.0), chosen("c", strength=1.0)]
    limits = Limits({"k": CampaignRoom(2, "cap")}, {"sms": ChannelRoom("sms", 1, 0)})
    assert kept(allocate(rows, limits)) == ["a/k"]


def test_budget_keeps_the_best_until_the_money_runs_out() -> None:
    rows = [
        chosen("a", strength=3.0, cost=Decimal("2")),
        chosen("b", strength=2.0, cost=Decimal("2")),
        chosen("c", strength=1.0, cost=Decimal("0.5")),
    ]
    out = allocate(rows, Limits({}, {}, BudgetRoom(Decimal("5"), Decimal("1.5"))))
    # 3.5 left: a (2) fits, b takes the total to 4, past it; c (4.5) does not fit either.
    assert kept(out) == ["a/k"]
    assert {cut for _, cut in out} == {None, "program budget 5 (1.5 spent before this run)"}


def test_campaign_room_from_budget_or_capacity_whichever_is_smaller() -> None:
    assert campaign_room(10, None, Decimal("0"), Decimal("0.05")) == CampaignRoom(
        10, "campaign capacity 10 per run"
    )
    assert campaign_room(10, Decimal("1"), Decimal("0"), Decimal("0.05")).limit == 10
    room = campaign_room(10, Decimal("1"), Decimal("0.75"), Decimal("0.05"))
    assert room == CampaignRoom(
        5, "campaign budget 1 (0.75 spent before this run, room for 5 at 0.05 each)"
    )
    assert campaign_room(None, Decimal("1"), Decimal("3"), Decimal("0.05")).limit == 0
    assert campaign_room(None, Decimal("1"), Decimal("0"), Decimal("0")).limit is None


def test_money_is_written_plainly() -> None:
    assert [money(Decimal(x)) for x in ("0.2500", "100", "1E+2", "12.50", "0")] == [
        "0.25",
        "100",
        "100",
        "12.5",
        "0",
    ]
