"""Teams, members and lines of reporting: the hierarchy holds, approvals find a manager."""

from __future__ import annotations

import pytest

from tactica.errors import Conflict, InvalidInput
from tactica.services import objectives, organisation
from tactica.services.organisation import MemberInput, TeamInput
from tactica.store.db import Store
from tests.integration.plans.conftest import marketing_org


def test_teams_list_parents_before_children_with_their_members(store: Store) -> None:
    marketing_org(store)
    with store.session() as s:
        teams = organisation.list_teams(s)
    assert [(t["name"], t["depth"]) for t in teams] == [
        ("marketing", 0),
        ("digital", 1),
        ("sales", 0),
    ]
    digital = teams[1]
    assert [(m["username"], m["reports_to"]) for m in digital["members"]] == [
        ("mia", None),
        ("sam", "mia"),
    ]


def test_approvals_go_up_the_line_then_to_the_leads(store: Store) -> None:
    marketing_org(store)
    with store.session() as s:
        assert organisation.manager_of(s, "sam") == "mia"  # named line
        assert organisation.manager_of(s, "mia") == "dana"  # digital has no lead: marketing's
        assert organisation.manager_of(s, "rita") == "sue"  # the sales team's lead
        assert organisation.manager_of(s, "dana") is None  # the top
        assert organisation.teams_of(s, "dana") == ["digital", "marketing"]


def test_loops_are_refused(store: Store) -> None:
    marketing_org(store)
    with store.session() as s:
        with pytest.raises(InvalidInput, match="cannot be its own parent") as e:
            organisation.update_team(
                s, TeamInput("marketing", parent="digital", lead="dana"), actor="t"
            )
        assert e.value.where == "parent"
        with pytest.raises(InvalidInput, match="cannot go round") as e:
            organisation.put_member(s, "digital", MemberInput("mia", reports_to="sam"), actor="t")
        assert e.value.where == "reports_to"
        with pytest.raises(InvalidInput, match="no user 'ghost'"):
            organisation.put_member(s, "digital", MemberInput("ghost"), actor="t")
        with pytest.raises(InvalidInput, match="is not one of"):
            organisation.add_team(s, TeamInput("pr", function="press"), actor="t")


def test_a_team_with_teams_or_goals_is_kept(store: Store) -> None:
    marketing_org(store)
    with store.session() as s:
        with pytest.raises(Conflict, match="has teams under it: digital"):
            organisation.delete_team(s, "marketing", actor="t")
        objectives.create_objective(
            s,
            objectives.ObjectiveInput("leads-2026", "2026", 500, kpi="leads", owner_team="sales"),
            actor="t",
        )
        with pytest.raises(Conflict, match="owns objectives: leads-2026"):
            organisation.delete_team(s, "sales", actor="t")
        organisation.delete_team(s, "digital", actor="t")
        s.commit()
        assert [t["name"] for t in organisation.list_teams(s)] == ["marketing", "sales"]
        assert organisation.manager_of(s, "sam") is None  # in no team any more
