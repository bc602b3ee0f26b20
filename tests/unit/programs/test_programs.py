"""Programs: the status life and validation of a program and its campaigns."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tactica.domain.programs import (
    TRANSITIONS,
    CampaignSpec,
    ProgramSpec,
    ProgramStatus,
    Schedule,
    legal_targets,
    program_problems,
    transition,
    validate_program,
)
from tactica.domain.schema import FieldType
from tactica.errors import Conflict, InvalidInput

S = ProgramStatus

LEGAL = {
    (S.DRAFT, S.SCHEDULED),
    (S.DRAFT, S.RUNNING),
    (S.DRAFT, S.CANCELLED),
    (S.SCHEDULED, S.RUNNING),
    (S.SCHEDULED, S.PAUSED),
    (S.SCHEDULED, S.DRAFT),
    (S.SCHEDULED, S.CANCELLED),
    (S.RUNNING, S.PAUSED),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.CANCELLED),
    (S.PAUSED, S.RUNNING),
    (S.PAUSED, S.COMPLETED),
    (S.PAUSED, S.CANCELLED),
}
ALL_PAIRS = list(itertools.product(ProgramStatus, ProgramStatus))


# --------------------------------------------------------------------------- status


def test_table_is_exactly_the_documented_one() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == LEGAL
    assert set(TRANSITIONS) == set(ProgramStatus)


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_transitions_pass(current: ProgramStatus, target: ProgramStatus) -> None:
    assert transition(current, target) is target
    assert transition(current.value, target.value) is target  # plain strings too


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_illegal_transitions_raise_naming_both_states(
    current: ProgramStatus, target: ProgramStatus
) -> None:
    legal = ", ".join(t.value for t in legal_targets(current)) or "none"
    with pytest.raises(Conflict) as info:
        transition(current, target)
    assert info.value.detail == (
        f"a {current} program cannot become {target}; from {current}: {legal}"
    )


def test_final_states_message() -> None:
    with pytest.raises(Conflict, match=r"^a completed program cannot become running; "):
        transition("completed", "running")
    with pytest.raises(Conflict, match=r"from completed: none$"):
        transition("completed", "running")
    assert legal_targets(S.CANCELLED) == ()
    assert legal_targets(S.DRAFT) == (S.SCHEDULED, S.RUNNING, S.CANCELLED)


def test_unknown_status_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="unknown status 'done'"):
        transition("draft", "done")


# --------------------------------------------------------------------------- validation

FIELDS = {"age": FieldType.INT, "balance": FieldType.FLOAT, "region": FieldType.CATEGORY}
SEGMENTS = ["young", "savers"]
LISTS = ["vip"]
OFFERS = ["A", "B"]


def campaign(name: str = "young-td", **kw: object) -> CampaignSpec:
    base = CampaignSpec(
        name=name,
        offers=("A",),
        channels=("sms",),
        segment="young",
        eligibility="age >= 18 and not on_list('vip')",
        score="balance * 0.5 + age",
        priority=10,
        capacity=1000,
        control_share=0.1,
        cost_per_contact=Decimal("0.05"),
        budget=Decimal("100"),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def program(*campaigns: CampaignSpec, **kw: object) -> ProgramSpec:
    base = ProgramSpec(
        name="spring-2027",
        owner="ana",
        schedule=Schedule.cron("0 9 * * 1"),
        campaigns=campaigns or (campaign(),),
        budget=Decimal("1000"),
        start=date(2027, 3, 1),
        end=date(2027, 5, 31),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def problems(spec: ProgramSpec, allow_empty: bool = False) -> list[str]:
    return program_problems(
        spec,
        fields=FIELDS,
        segments=SEGMENTS,
        lists=LISTS,
        offers=OFFERS,
        allow_empty=allow_empty,
    )


def test_valid_program_passes() -> None:
    spec = program(campaign(), campaign("second", offers=("A", "B"), channels=("email", "sms")))
    assert problems(spec) == []
    validate_program(spec, fields=FIELDS, segments=SEGMENTS, lists=LISTS, offers=OFFERS)


def test_optional_parts_may_be_left_out() -> None:
    minimal = CampaignSpec(name="c", offers=("B",), channels=("email",))
    assert problems(ProgramSpec(name="p", owner="ana", campaigns=(minimal,))) == []


def test_every_problem_is_reported_with_its_place() -> None:
    spec = program(
        campaign(),
        campaign("young-td", eligibility="age >= 18 and regoin = 'north'", capacity=-5),
        campaign("third", offers=("XX", "A"), channels=("fax",), control_share=1.0),
    )
    with pytest.raises(InvalidInput) as info:
        validate_program(spec, fields=FIELDS, segments=SEGMENTS, lists=LISTS, offers=OFFERS)
    detail = info.value.detail
    assert detail.startswith("program 'spring-2027' has 6 problem(s):\n")
    assert "- campaigns[1] 'young-td'.name: used twice in this program (also campaigns[0])" in (
        detail
    )
    assert (
        "- campaigns[1] 'young-td'.eligibility: line 1, col 15: unknown attribute 'regoin'"
        in detail
    )
    assert "- campaigns[1] 'young-td'.capacity: must be 0 or more, got -5" in detail
    assert "- campaigns[2] 'third'.offers[0]: unknown offer 'XX'; offers are: A, B" in detail
    assert "- campaigns[2] 'third'.channels[0]: unknown channel 'fax'; channels are: email" in (
        detail
    )
    assert "- campaigns[2] 'third'.control_share: must be at least 0 and below 1, got 1.0" in (
        detail
    )


def test_rule_snippet_follows_the_problem() -> None:
    (p,) = problems(program(campaign(eligibility="age >")))
    assert p.startswith("campaigns[0] 'young-td'.eligibility: line 1, col 6: ")
    assert p.endswith("\n    age >\n         ^")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"eligibility": "age + 1"}, "'young-td'.eligibility: line 1, col 1: "),
        ({"score": "region"}, "'young-td'.score: line 1, col 1: "),
        ({"score": "in_segment('nope')"}, "unknown segment 'nope'"),
        ({"eligibility": "on_list('gold')"}, "unknown list 'gold'"),
        ({"segment": "olds"}, ".segment: unknown segment 'olds'; segments are: savers, young"),
        ({"offers": ()}, ".offers: a campaign needs at least one offer"),
        ({"offers": ("A", "A")}, ".offers[1]: offer 'A' is listed twice (also offers[0])"),
        ({"channels": ()}, ".channels: a campaign needs at least one channel"),
        ({"channels": ("sms", "sms")}, ".channels[1]: channel 'sms' is listed twice"),
        ({"kind": "triggered"}, ".events: a triggered campaign listens to at least one event type"),
        ({"kind": "batch"}, ".kind: unknown kind 'batch'"),
        (
            {"max_event_age_minutes": 30},
            ".max_event_age_minutes: only a triggered campaign answers events",
        ),
        ({"name": "Bad Name"}, "campaigns[0] 'Bad Name'.name: 'Bad Name' must start with"),
        ({"template": "  "}, ".template: is empty"),
        ({"priority": 1.5}, ".priority: must be a whole number, got 1.5"),
        ({"capacity": True}, ".capacity: must be a whole number or None, got True"),
        ({"control_share": -0.1}, ".control_share: must be at least 0 and below 1, got -0.1"),
        ({"control_share": float("nan")}, ".control_share: must be at least 0 and below 1"),
        ({"cost_per_contact": Decimal("-1")}, ".cost_per_contact: must be 0 or more, got -1"),
        ({"cost_per_contact": 0.5}, ".cost_per_contact: must be a decimal amount, got 0.5"),
        ({"budget": Decimal("NaN")}, "'young-td'.budget: must be a finite amount"),
    ],
)
def test_campaign_problems(changes: dict[str, object], expected: str) -> None:
    found = problems(program(replace(campaign(), **changes)))  # type: ignore[arg-type]
    assert len(found) == 1, found
    assert expected in found[0]


def test_capacity_zero_and_unlimited_are_fine() -> None:
    assert problems(program(campaign(capacity=0))) == []
    assert problems(program(campaign(capacity=None, budget=None))) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": "Spring"}, "name: 'Spring' must start with a lower-case letter"),
        ({"name": "a" * 101}, "name: "),
        ({"owner": " "}, "owner: is required"),
        ({"budget": Decimal("-1")}, "budget: must be 0 or more, got -1"),
        ({"end": date(2027, 2, 1)}, "end: 2027-02-01 is before start 2027-03-01"),
        ({"campaigns": ()}, "campaigns: a program needs at least one campaign to run"),
        (
            {"schedule": Schedule.once(datetime(2027, 6, 1, tzinfo=UTC))},
            "schedule.at: 2027-06-01 is after end 2027-05-31",
        ),
        (
            {"schedule": Schedule.once(datetime(2027, 2, 28, tzinfo=UTC))},
            "schedule.at: 2027-02-28 is before start 2027-03-01",
        ),
        ({"budget": Decimal("150")}, "budget: campaign budgets add up to 200, above"),
    ],
)
def test_program_problems(changes: dict[str, object], expected: str) -> None:
    spec = replace(program(campaign(), campaign("other")), **changes)  # type: ignore[arg-type]
    found = problems(spec)
    assert len(found) == 1, found
    assert found[0].startswith(expected)


def test_budget_sum_equal_to_program_budget_is_fine() -> None:
    spec = program(campaign(), campaign("other"), budget=Decimal("200"))
    assert problems(spec) == []
    assert problems(replace(spec, budget=None)) == []


def test_a_draft_may_have_no_campaigns_yet() -> None:
    assert problems(program(campaigns=()), allow_empty=True) == []
