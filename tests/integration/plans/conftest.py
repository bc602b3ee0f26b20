"""People and teams the plan tests share."""

from __future__ import annotations

from tactica.services import organisation, users
from tactica.store.db import Store


def people(store: Store, *names: tuple[str, str]) -> None:
    """Create users (username, role) in ``store``."""
    with store.session() as s:
        for username, role in names:
            users.create_user(s, username, "a long enough password", role, actor="t")
        s.commit()


def marketing_org(store: Store) -> None:
    """A director (dana) over marketing, which has a digital team; sales with two reps."""
    people(
        store,
        ("dana", "marketer"),
        ("mia", "marketer"),
        ("sam", "marketer"),
        ("rita", "sales_rep"),
        ("rob", "sales_rep"),
        ("sue", "analyst"),
    )
    with store.session() as s:
        organisation.add_team(
            s, organisation.TeamInput("marketing", "Marketing", lead="dana"), actor="t"
        )
        organisation.add_team(
            s, organisation.TeamInput("digital", "Digital", parent="marketing"), actor="t"
        )
        organisation.add_team(
            s,
            organisation.TeamInput("sales", "Field sales", function="sales", lead="sue"),
            actor="t",
        )
        organisation.put_member(
            s, "digital", organisation.MemberInput("mia", "Channel lead"), actor="t"
        )
        organisation.put_member(
            s, "digital", organisation.MemberInput("sam", "E-mail", reports_to="mia"), actor="t"
        )
        for rep in ("rita", "rob"):
            organisation.put_member(s, "sales", organisation.MemberInput(rep, "Rep"), actor="t")
        s.commit()
