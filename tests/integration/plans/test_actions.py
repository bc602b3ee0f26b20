"""Plans broken into actions: who does what by when, how it is going, and who evaluates
it — on both databases, with every refusal a user would meet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tactica.domain.periods import parse_period
from tactica.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tactica.services import objectives, organisation, plans
from tactica.services.plans import ActionInput, PlanInput
from tactica.store.db import Store
from tactica.store.models import Contact, Program
from tests.integration.plans.conftest import marketing_org

TODAY = date(2026, 11, 20)


@pytest.fixture
def org(store: Store) -> Store:
    """The marketing organisation with a 2026 plan broken into a Q4 and a November plan."""
    marketing_org(store)
    with store.session() as s:
        s.add(Program(name="autumn", owner="dana"))
        objectives.create_objective(
            s,
            objectives.ObjectiveInput("revenue-2026", "2026", 1000, kpi="revenue", owner="dana"),
            actor="t",
        )
        plans.create_plan(
            s,
            PlanInput("plan-2026", "2026", owner_team="marketing", objective="revenue-2026"),
            actor="t",
        )
        plans.create_plan(
            s, PlanInput("q4", "2026-Q4", kind="quarterly", parent="plan-2026"), actor="t"
        )
        plans.create_plan(s, PlanInput("nov", "2026-11", kind="monthly", parent="q4"), actor="t")
        s.commit()
    return store


def _action(name: str, **kw: object) -> ActionInput:
    base: dict[str, object] = {
        "subject": f"do {name}",
        "owner": "sam",
        "starts_on": "2026-11-02",
        "due_on": "2026-11-27",
        "criteria": "sent to every eligible customer",
    }
    return ActionInput(name=name, **{**base, **kw})  # type: ignore[arg-type]


def test_plan_kinds_cover_their_period_within_their_parent(org: Store) -> None:
    with org.session() as s:
        with pytest.raises(InvalidInput) as e:
            plans.create_plan(s, PlanInput("x", "2026-11", kind="quarterly"), actor="t")
        assert e.value.where == "period" and "quarter" in e.value.detail
        with pytest.raises(InvalidInput) as e:
            plans.create_plan(
                s, PlanInput("x", "2026-Q3", kind="quarterly", parent="nov"), actor="t"
            )
        assert e.value.where == "period" and "nov" in e.value.detail
        with pytest.raises(InvalidInput) as e:
            plans.create_plan(s, PlanInput("x", "2026", kind="yearly"), actor="t")
        assert e.value.where == "kind"
        with pytest.raises(InvalidInput) as e:
            plans.create_plan(s, PlanInput("x", "2026", objective="nope"), actor="t")
        assert e.value.where == "objective"
        with pytest.raises(Conflict):
            plans.create_plan(s, PlanInput("q4", "2026-Q4", kind="quarterly"), actor="t")
        # A promotion plan may cover any period, here a week.
        p = plans.create_plan(s, PlanInput("black-friday", "2026-W48", kind="promotion"), actor="t")
        assert (p.starts_on, p.ends_on) == (date(2026, 11, 23), date(2026, 11, 30))
        assert [x.name for x in plans.list_plans(s, period="2026-11")] == [
            "plan-2026",
            "q4",
            "nov",
            "black-friday",
        ]


def test_a_committed_action_has_an_owner_a_due_day_and_criteria(org: Store) -> None:
    with org.session() as s:
        for missing in ("owner", "due_on", "criteria"):
            with pytest.raises(InvalidInput) as e:
                plans.add_action(
                    s,
                    "nov",
                    _action("a", **{missing: None if missing != "criteria" else ""}),
                    actor="t",
                )
            assert e.value.where == missing
            assert "draft" in e.value.detail
        # Written as a draft, it is kept, and shown as a slogan.
        plans.add_action(s, "nov", _action("a", owner=None, status="draft"), actor="t")
        detail = plans.plan_detail(s, "nov", TODAY)
        assert detail["slogan"] == "no committed action (only drafts or cancelled ones)"
        assert detail["actions"][0]["tracking"] == "slogan"
        assert detail["actions"][0]["missing"] == ["owner"]
        # Committing it without an owner is refused the same way.
        with pytest.raises(InvalidInput) as e:
            plans.move(s, "nov", "a", "committed", username="dana", may_write=True, actor="t")
        assert e.value.where == "owner"
        plans.update_action(s, "nov", _action("a"), actor="t")
        assert plans.plan_detail(s, "nov", TODAY)["slogan"] is None


def test_a_plan_without_actions_is_a_slogan(org: Store) -> None:
    with org.session() as s:
        assert plans.plan_detail(s, "q4", TODAY)["slogan"] == "no actions"


def test_action_days_lie_within_the_plan_and_due_after_start(org: Store) -> None:
    with org.session() as s:
        with pytest.raises(InvalidInput) as e:
            plans.add_action(s, "nov", _action("a", due_on="2026-12-01"), actor="t")
        assert e.value.where == "due_on" and "2026-11-30" in e.value.detail
        with pytest.raises(InvalidInput) as e:
            plans.add_action(
                s, "nov", _action("a", starts_on="2026-11-20", due_on="2026-11-10"), actor="t"
            )
        assert e.value.where == "due_on"
        with pytest.raises(InvalidInput) as e:
            plans.add_action(s, "nov", _action("a", due_on="27/11/2026"), actor="t")
        assert e.value.where == "due_on" and "YYYY-MM-DD" in e.value.detail
        with pytest.raises(InvalidInput) as e:
            plans.add_action(s, "nov", _action("a", program="nope"), actor="t")
        assert e.value.where == "program"
        with pytest.raises(InvalidInput) as e:
            plans.add_action(s, "nov", _action("a", owner="nobody"), actor="t")
        assert e.value.where == "owner"
        plans.add_action(s, "nov", _action("a"), actor="t")
        # The plan cannot shrink away from its actions.
        with pytest.raises(InvalidInput) as e:
            plans.update_plan(
                s, PlanInput("nov", "2026-10", kind="monthly", parent="q4"), actor="t"
            )
        assert e.value.where == "period" and "a" in e.value.detail
        with pytest.raises(NotFound):
            plans.get_action(s, "nov", "b")


def test_tracking_says_on_track_at_risk_late_and_done_on_time_or_late(org: Store) -> None:
    with org.session() as s:
        plans.add_action(s, "nov", _action("started", due_on="2026-11-25"), actor="t")
        plans.add_action(s, "nov", _action("not-started", starts_on="2026-11-10"), actor="t")
        plans.add_action(
            s, "nov", _action("due-soon", starts_on="2026-11-21", due_on="2026-11-22"), actor="t"
        )
        plans.add_action(
            s, "nov", _action("later", starts_on="2026-11-24", due_on="2026-11-30"), actor="t"
        )
        plans.add_action(
            s, "nov", _action("overdue", starts_on="2026-11-02", due_on="2026-11-19"), actor="t"
        )
        plans.add_action(s, "nov", _action("early", due_on="2026-11-15"), actor="t")
        plans.add_action(s, "nov", _action("tardy", due_on="2026-11-15"), actor="t")
        plans.add_action(s, "nov", _action("dropped"), actor="t")
        plans.move(
            s,
            "nov",
            "started",
            "in_progress",
            username="sam",
            may_write=False,
            actor="t",
            on=date(2026, 11, 3),
        )
        plans.move(
            s,
            "nov",
            "overdue",
            "in_progress",
            username="sam",
            may_write=False,
            actor="t",
            on=date(2026, 11, 3),
        )
        plans.move(
            s,
            "nov",
            "early",
            "done",
            username="sam",
            may_write=False,
            actor="t",
            on=date(2026, 11, 15),
        )
        plans.move(
            s,
            "nov",
            "tardy",
            "done",
            username="sam",
            may_write=False,
            actor="t",
            on=date(2026, 11, 16),
        )
        plans.move(s, "nov", "dropped", "cancelled", username="dana", may_write=True, actor="t")
        got = {a["name"]: a["tracking"] for a in plans.plan_detail(s, "nov", TODAY)["actions"]}
        assert got == {
            "started": "on track",
            "not-started": "at risk",
            "due-soon": "at risk",
            "later": "on track",
            "overdue": "late",
            "early": "done on time",
            "tardy": "done late",
            "dropped": "cancelled",
        }
        # The weekly view of week 47 (16–22 Nov): due that week, and open ones due before.
        week = plans.track(s, parse_period("2026-W47"), TODAY)
        assert sorted(a["name"] for a in week) == ["due-soon", "overdue"]
        assert [a["name"] for a in plans.track(s, parse_period("2026-W46"), TODAY)] == [
            "early",
            "tardy",
        ]
        month = plans.track(s, parse_period("2026-11"), TODAY, owner="sam")
        assert len(month) == 8
        assert plans.track(s, parse_period("2026-11"), TODAY, owner="mia") == []


def test_only_the_owner_or_a_planner_reports_progress_and_moves_are_legal(org: Store) -> None:
    with org.session() as s:
        plans.add_action(s, "nov", _action("a"), actor="t")
        with pytest.raises(PermissionDenied):
            plans.move(s, "nov", "a", "in_progress", username="rita", may_write=False, actor="t")
        plans.move(
            s,
            "nov",
            "a",
            "in_progress",
            username="sam",
            may_write=False,
            actor="t",
            on=date(2026, 11, 4),
        )
        with pytest.raises(Conflict) as e:
            plans.move(s, "nov", "a", "draft", username="sam", may_write=False, actor="t")
        assert "done, cancelled" in e.value.detail
        with pytest.raises(InvalidInput) as e:
            plans.move(
                s,
                "nov",
                "a",
                "done",
                username="sam",
                may_write=False,
                actor="t",
                on=datetime.now(UTC).date() + timedelta(days=2),
            )
        assert e.value.where == "on"
        # Under way, it cannot be removed nor lose its owner.
        with pytest.raises(Conflict):
            plans.remove_action(s, "nov", "a", actor="t")
        with pytest.raises(InvalidInput) as e:
            plans.update_action(s, "nov", _action("a", owner=None), actor="t")
        assert e.value.where == "owner"
        with pytest.raises(InvalidInput) as e:
            plans.update_action(s, "nov", _action("a", status="done"), actor="t")
        assert e.value.where == "status"
        a = plans.move(
            s, "nov", "a", "done", username="sam", may_write=False, actor="t", on=date(2026, 11, 20)
        )
        assert (a.started_on, a.done_on) == (date(2026, 11, 4), date(2026, 11, 20))
        with pytest.raises(Conflict):
            plans.delete_plan(s, "nov", actor="t")


def test_the_evaluator_is_named_or_the_owners_manager_never_the_owner(org: Store) -> None:
    with org.session() as s:
        plans.add_action(s, "nov", _action("a"), actor="t")  # sam reports to mia
        plans.add_action(s, "nov", _action("b", owner="mia", evaluator="dana"), actor="t")
        with pytest.raises(Conflict):
            plans.evaluate(
                s, "nov", "a", "met", 4, "", username="mia", may_override=False, actor="t"
            )
        for name, owner in (("a", "sam"), ("b", "mia")):
            plans.move(
                s,
                "nov",
                name,
                "done",
                username=owner,
                may_write=False,
                actor="t",
                on=date(2026, 11, 20),
            )
        assert plans.evaluator_of(s, plans.get_action(s, "nov", "a")) == "mia"
        with pytest.raises(PermissionDenied) as e:
            plans.evaluate(
                s, "nov", "a", "met", 4, "", username="dana", may_override=False, actor="t"
            )
        assert "mia" in e.value.detail
        with pytest.raises(PermissionDenied):
            plans.evaluate(
                s, "nov", "a", "met", 4, "", username="sam", may_override=False, actor="t"
            )
        with pytest.raises(InvalidInput) as e:
            plans.evaluate(
                s, "nov", "a", "met", 6, "", username="mia", may_override=False, actor="t"
            )
        assert e.value.where == "quality"
        with pytest.raises(InvalidInput) as e:
            plans.evaluate(
                s, "nov", "a", "great", 4, "", username="mia", may_override=False, actor="t"
            )
        assert e.value.where == "result"
        a = plans.evaluate(
            s,
            "nov",
            "a",
            "partly",
            3,
            "two days of delay in the SMS",
            username="mia",
            may_override=False,
            actor="t",
        )
        assert (a.result, a.quality, a.evaluated_by) == ("partly", 3, "mia")
        # Evaluated, it stays done.
        with pytest.raises(Conflict):
            plans.move(s, "nov", "a", "in_progress", username="sam", may_write=False, actor="t")
        plans.evaluate(s, "nov", "b", "met", 5, "", username="dana", may_override=False, actor="t")
        # Someone nobody manages names no evaluator: an admin may still evaluate.
        organisation.update_team(s, organisation.TeamInput("marketing", "Marketing"), actor="t")
        plans.add_action(s, "nov", _action("c", owner="dana"), actor="t")
        plans.move(
            s, "nov", "c", "done", username="dana", may_write=True, actor="t", on=date(2026, 11, 20)
        )
        with pytest.raises(PermissionDenied) as e:
            plans.evaluate(
                s, "nov", "c", "met", 4, "", username="mia", may_override=False, actor="t"
            )
        assert "name an evaluator" in e.value.detail
        plans.evaluate(s, "nov", "c", "met", 4, "", username="root", may_override=True, actor="t")


def test_an_action_shows_its_programs_figures_over_its_days(org: Store) -> None:
    """The program's contacts sent between the action's start and its end (done day,
    else due day, never after today) count; others do not."""
    sent_days = [date(2026, 11, d) for d in (1, 2, 5, 10, 19, 20, 21, 27)]
    with org.session() as s:
        for i, day in enumerate(sent_days):
            for program in ("autumn", "other"):
                at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
                s.add(
                    Contact(
                        program=program,
                        campaign="c",
                        customer_id=f"c{i}",
                        offer="GOLD",
                        channel="sms",
                        cost=Decimal("0.05"),
                        spent=Decimal("0.05"),
                        status="sent",
                        decided_at=at,
                        sent_at=at,
                    )
                )
        plans.add_action(s, "nov", _action("sms", program="autumn"), actor="t")
        plans.add_action(s, "nov", _action("none"), actor="t")
        s.commit()
        got = {a["name"]: a["figures"] for a in plans.plan_detail(s, "nov", TODAY)["actions"]}
        assert got["none"] is None
        fig = got["sms"]
        expected = [d for d in sent_days if date(2026, 11, 2) <= d <= TODAY]
        assert fig["sent"] == len(expected) == 5
        assert (fig["from"], fig["to"]) == ("2026-11-02", "2026-11-20")
        assert fig["cost"] == Decimal("0.05") * len(expected)
        plans.move(
            s,
            "nov",
            "sms",
            "done",
            username="sam",
            may_write=False,
            actor="t",
            on=date(2026, 11, 10),
        )
        after = {a["name"]: a["figures"] for a in plans.plan_detail(s, "nov", TODAY)["actions"]}
        fig = after["sms"]
        assert fig["sent"] == 3 and fig["to"] == "2026-11-10"


def test_deleting_a_plan_takes_its_planned_actions_and_guards_what_hangs_on_it(org: Store) -> None:
    with org.session() as s:
        plans.add_action(s, "nov", _action("a"), actor="t")
        with pytest.raises(Conflict):
            plans.delete_plan(s, "q4", actor="t")  # nov breaks it down
        with pytest.raises(Conflict):
            objectives.delete_objective(s, "revenue-2026", actor="t")
        with pytest.raises(Conflict):
            organisation.delete_team(s, "marketing", actor="t")
        plans.delete_plan(s, "nov", actor="t")
        s.commit()
        with pytest.raises(NotFound):
            plans.get_action(s, "nov", "a")


def test_whose_work_my_teams_view_shows(org: Store) -> None:
    """Those who report to me, and the people of my teams, the teams below included."""
    with org.session() as s:
        assert organisation.reports_of(s, "mia") == ["sam"]
        assert organisation.people_around(s, "mia") == ["sam"]  # mia is in digital, not its lead
        assert organisation.people_around(s, "dana") == ["mia", "sam"]
        assert organisation.people_around(s, "sue") == ["rita", "rob"]
        assert organisation.people_around(s, "rita") == ["rob", "sue"]  # their team and its lead
