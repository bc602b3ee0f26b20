"""Capacity across runs: a channel's day shared by programs, and budgets spent run by run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tactica.domain.capacity import money
from tactica.errors import InvalidInput
from tactica.services import explain, runs
from tactica.store.db import Store
from tactica.store.models import Run
from tests.integration.runs.conftest import NOW

TWO_PROGRAMS = """\
kind: ContactPolicy
name: sms-day
daily_capacity: {sms: 6}
timezone: Asia/Shanghai
---
kind: Program
name: first
owner: ana
policy: sms-day
campaigns:
  - name: a-sms
    offers: [GOLD]
    channels: [sms]
    score: "balance / 1000"
    cost_per_contact: 0.05
---
kind: Program
name: second
owner: ana
policy: sms-day
campaigns:
  - name: b-sms
    offers: [GOLD]
    channels: [sms]
    score: "balance / 1000"
"""


def _cuts(store: Store, run_id: int) -> dict[str, str]:
    with store.session() as s:
        return {
            cid: r["reason"]
            for cid in [f"c{i:02d}" for i in range(40)]
            for r in runs.suppressions_of(s, run_id, cid)
            if r["stage"] == "capacity"
        }


def test_programs_share_a_channels_day_in_the_policys_time_zone(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    apply_yaml(TWO_PROGRAMS)
    first = runs.run_program(program_store, "first", actor="ana", now=NOW)
    assert first is not None and first.contacts == 6
    cuts = _cuts(program_store, first.run_id or 0)
    assert set(cuts.values()) == {"channel sms daily capacity 6 (0 already decided today)"}
    # 09:00 UTC is 17:00 in Shanghai: an hour later is the same day there, nothing is left.
    second = runs.run_program(program_store, "second", actor="ana", now=NOW + timedelta(hours=1))
    assert second is not None and second.contacts == 0
    assert set(_cuts(program_store, second.run_id or 0).values()) == {
        "channel sms daily capacity 6 (6 already decided today)"
    }
    # 16:00 UTC is past midnight in Shanghai: a new day, a new 6.
    third = runs.run_program(program_store, "second", actor="ana", now=NOW + timedelta(hours=7))
    assert third is not None and third.contacts == 6


def test_the_best_customers_get_the_days_room(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    apply_yaml(TWO_PROGRAMS)
    done = runs.run_program(program_store, "first", actor="ana", now=NOW)
    assert done is not None and done.run_id is not None
    # The score is the balance, so the six richest reachable customers are kept.
    why = explain.explain_customer(program_store, "c11", run_id=done.run_id)
    (camp,) = why.campaigns
    assert camp.outcome.startswith("not contacted: channel sms daily capacity 6")
    rich = explain.explain_customer(program_store, "c39", run_id=done.run_id)
    assert rich.campaigns[0].contacted
    (step,) = [st for st in rich.campaigns[0].steps if st.name == "capacity"]
    assert step.detail == (
        "channel sms daily capacity 6 (0 already decided today): "
        "filled best first across the whole run"
    )
    # A later run the same day sees the first one's contacts, and explains so afterwards.
    later = runs.run_program(program_store, "second", actor="ana", now=NOW + timedelta(hours=1))
    assert later is not None and later.contacts == 0
    again = explain.explain_customer(program_store, "c39", run_id=done.run_id)
    assert [st.detail for st in again.campaigns[0].steps if st.name == "capacity"] == [step.detail]


def test_a_program_budget_is_spent_across_runs(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    apply_yaml(
        TWO_PROGRAMS.replace("daily_capacity: {sms: 6}", "daily_capacity: {}").replace(
            "name: first\nowner: ana\n", "name: first\nowner: ana\nbudget: 0.25\n"
        )
    )
    one = runs.run_program(program_store, "first", actor="ana", now=NOW)
    assert one is not None and one.contacts == 5 and money(one.cost) == "0.25"
    two = runs.run_program(program_store, "first", actor="ana", now=NOW + timedelta(days=1))
    assert two is not None and two.contacts == 0
    assert set(_cuts(program_store, two.run_id or 0).values()) == {
        "program budget 0.25 (0.25 spent before this run)"
    }
    # What the program would do now says so too.
    now = explain.explain_customer(
        program_store, "c39", program="first", now=NOW + timedelta(days=2)
    )
    steps = [st for st in now.campaigns[0].steps if st.name == "capacity"]
    assert steps and "program budget 0.25 (0.25 spent before this run)" in steps[0].detail


def test_a_campaign_budget_caps_each_run_at_what_is_left(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    apply_yaml(
        TWO_PROGRAMS.replace("daily_capacity: {sms: 6}", "daily_capacity: {}").replace(
            "    cost_per_contact: 0.05\n", "    cost_per_contact: 0.05\n    budget: 0.4\n"
        )
    )
    one = runs.run_program(program_store, "first", actor="ana", now=NOW)
    assert one is not None and one.contacts == 8
    two = runs.run_program(program_store, "first", actor="ana", now=NOW + timedelta(days=1))
    assert two is not None and two.contacts == 0
    assert set(_cuts(program_store, two.run_id or 0).values()) == {
        "campaign budget 0.4 (0.4 spent before this run, room for 0 at 0.05 each)"
    }
    with program_store.session() as s:
        assert [r.cost for r in s.query(Run).order_by(Run.id)] == [one.cost, 0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("daily_capacity: {fax: 3}", "policy.daily_capacity.fax: not a channel"),
        ("daily_capacity: {sms: -1}", "policy.daily_capacity.sms: a whole number of at least 0"),
        ("daily_capacity: [sms]", "policy.daily_capacity: a mapping of channel to contacts"),
        ("timezone: Mars/Olympus", "policy.timezone: a time zone name such as Europe/Lisbon"),
    ],
)
def test_a_bad_daily_capacity_is_refused_with_its_place(
    program_store: Store, apply_yaml: Callable[[str], None], line: str, expected: str
) -> None:
    key = line.split(":")[0]
    good = next(g for g in TWO_PROGRAMS.splitlines() if g.startswith(key + ":"))
    text = TWO_PROGRAMS.replace(good, line)
    with pytest.raises(InvalidInput) as err:
        apply_yaml(text)
    assert expected in str(err.value)
