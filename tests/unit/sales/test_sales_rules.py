"""The sales rules without a database: moves, who gets a lead, turns, checks, ratios."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tactica.domain.sales import (
    LeadStatus,
    RepLoad,
    activity_kind,
    assignment_stamp,
    check_capacity,
    check_move,
    choose_rep,
    clean_skills,
    is_overdue,
    legal_moves,
    move,
    per,
)
from tactica.errors import Conflict, InvalidInput

T = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_every_open_lead_may_be_lost_and_only_spoken_to_leads_won() -> None:
    assert legal_moves("new") == (LeadStatus.CONTACTED, LeadStatus.LOST)
    assert move("contacted", "won") is LeadStatus.WON
    with pytest.raises(Conflict, match="a qualified lead cannot become new; it may become: won"):
        move("qualified", "new")
    for closed in ("won", "lost"):
        with pytest.raises(Conflict, match="none"):
            move(closed, "lost")


def test_a_move_takes_only_the_options_that_fit() -> None:
    assert check_move(LeadStatus.LOST, reason=" too dear ", discount=None, offer=None) == "too dear"
    assert check_move(LeadStatus.WON, reason=None, discount=5, offer="GOLD") is None
    with pytest.raises(InvalidInput, match="reason: a lost lead needs a reason"):
        check_move(LeadStatus.LOST, reason=None, discount=None, offer=None)
    with pytest.raises(InvalidInput, match="reason: only a lost lead takes a reason"):
        check_move(LeadStatus.WON, reason="why not", discount=None, offer=None)
    with pytest.raises(InvalidInput, match="offer: only a won lead"):
        check_move(LeadStatus.QUALIFIED, reason=None, discount=None, offer="GOLD")


def test_a_territory_or_skill_narrows_the_reps_with_room() -> None:
    reps = [
        RepLoad("ana", territory="north", skills=frozenset({"loans"}), capacity=2, open_leads=2),
        RepLoad("bo", territory="north", capacity=5, open_leads=1),
        RepLoad("cy", territory="south", skills=frozenset({"loans"}), capacity=5, open_leads=4),
    ]
    pick = choose_rep(reps, "territory", territory="north")
    assert pick is not None and pick.username == "bo"  # ana is full
    pick = choose_rep(reps, "skill", skill="loans")
    assert pick is not None and pick.username == "cy"
    pick = choose_rep(reps, "load")
    assert pick is not None and pick.username == "bo"  # 1/5 beats 4/5
    assert choose_rep([reps[0]], "round_robin") is None


def test_stamps_never_repeat_so_turns_go_round() -> None:
    reps = [RepLoad("ana"), RepLoad("bo")]
    picked = []
    for _ in range(4):
        chosen = choose_rep(reps, "round_robin")
        assert chosen is not None
        stamp = assignment_stamp(reps, T)
        reps = [r if r is not chosen else RepLoad(r.username, last_assigned_at=stamp) for r in reps]
        picked.append(chosen.username)
    assert picked == ["ana", "bo", "ana", "bo"]
    assert assignment_stamp([RepLoad("ana", last_assigned_at=T - timedelta(hours=1))], T) == T


def test_input_checks_name_the_field() -> None:
    with pytest.raises(InvalidInput, match="kind: unknown kind 'fax'; kinds are: call, visit"):
        activity_kind("fax")
    for bad in (-1, 10_001, True):
        with pytest.raises(InvalidInput, match="capacity"):
            check_capacity(bad)
    assert clean_skills([" Loans", "loans", "", "cards"]) == ["Loans", "cards"]
    with pytest.raises(InvalidInput, match="skills: at most 50"):
        clean_skills(f"s{i}" for i in range(51))


def test_ratios_and_overdue() -> None:
    assert per(Decimal("10"), 3) == Decimal("3.3333")
    assert per(Decimal("10"), 0) is None
    assert is_overdue("new", T, T) and not is_overdue("contacted", T, T + timedelta(days=1))
    assert not is_overdue("new", T + timedelta(seconds=1), T)
