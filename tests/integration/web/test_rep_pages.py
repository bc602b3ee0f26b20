"""The reps pages: every rep with what they hold, a rep's page, adding a rep (waiting
leads assigned at once), changing one (deactivating hands their leads back), refused
fields, and who may do what."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.services import sales
from tactica.services.responses import Inbound, take_responses
from tactica.services.sales import Acting
from tactica.store.db import Store
from tactica.store.models import AuditEntry, Lead, SalesRep
from tests.integration.responses.conftest import ran_store
from tests.integration.web.conftest import csrf_of, post_form, sign_in

BOSS = Acting("admin", "admin", "user:admin")
NEW_REP = {
    "username": "ana",
    "full_name": "Ana Lima",
    "territory": "Lisboa",
    "skills": "cards, loans, Cards",
    "capacity": "2",
    "role": "farmer",
    "manager": "marketer",
}
#: The change form of sales_rep as it stands (see ``held``).
AS_IS = {
    "full_name": "",
    "territory": "",
    "skills": "",
    "capacity": "50",
    "role": "hunter",
    "manager": "",
    "active": "on",
}


def _replies(store: Store, *customers: int) -> list[int]:
    """Customers c<nn> answer the campaign's SMS asking to know more, an hour apart: leads."""
    now = datetime.now(UTC)
    ids = []
    for n, customer in enumerate(customers):
        at = now - timedelta(hours=len(customers) - n)
        sender = f"35191{customer:07d}"
        item = Inbound(f"m{customer}", "sms", "tell me more", sender=sender, received_at=at)
        assert take_responses(store, "gw", [item], now=at).leads == 1
        with store.session() as s:
            ids.append(s.scalars(sa.select(Lead.id).order_by(Lead.id.desc()).limit(1)).one())
    return ids


@pytest.fixture
def waiting(store: Store) -> list[int]:
    """The 'autumn' program sent two days ago and nobody sells yet: c01, c02 and c03
    asked to know more since, and their three leads wait for a rep."""
    ran_store(store, reps=(), sent=datetime.now(UTC) - timedelta(days=2))
    return _replies(store, 1, 2, 3)


@pytest.fixture
def held(store: Store) -> list[int]:
    """Reps sales_rep and rita (capacity 50, no territory, skills or manager); the leads of
    c01 and c02 are sales_rep's (c01's past its 4-hour SLA), c03's rita's."""
    ran_store(store, reps=("sales_rep", "rita"), sent=datetime.now(UTC) - timedelta(days=2))
    ids = _replies(store, 1, 2, 3)
    with store.session() as s:
        for lead_id, rep in zip(ids, ("sales_rep", "sales_rep", "rita"), strict=True):
            sales.reassign_lead(s, lead_id, rep, who=BOSS)
        # c01 has waited past their SLA.
        late = datetime.now(UTC) - timedelta(hours=1)
        s.execute(sa.update(Lead).where(Lead.id == ids[0]).values(due_at=late))
        s.commit()
    return ids


def _reps(store: Store) -> dict[str, dict[str, Any]]:
    with store.session() as s:
        return {r["username"]: r for r in sales.list_reps(s, include_inactive=True)}


def _holders(store: Store) -> dict[int, str | None]:
    with store.session() as s:
        return {i: rep for i, rep in s.execute(sa.select(Lead.id, Lead.rep).order_by(Lead.id))}


def _audits(store: Store) -> int:
    with store.session() as s:
        q = sa.select(sa.func.count()).where(AuditEntry.entity_type == "sales_rep")
        return int(s.scalar(q) or 0)


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-rep="([^"]+)">', html)


def _row(html: str, rep: str) -> str:
    found = re.search(rf'<tr data-rep="{re.escape(rep)}">(.*?)</tr>', html, re.S)
    assert found is not None, html
    return found.group(1)


def _cell(row: str, name: str) -> str:
    found = re.search(rf"<td[^>]*data-{name}>(.*?)</td>", row, re.S)
    assert found is not None, row
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def _error(html: str, field: str) -> str:
    found = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert found is not None, html
    return unescape(found.group(1))


def _done(html: str) -> str:
    found = re.search(r'id="done">(.*?)</p>', html, re.S)
    assert found is not None, html
    return unescape(found.group(1))


# ----------------------------------------------------------------------------- every rep


def test_every_active_rep_is_listed_with_what_they_hold_and_inactive_ones_on_asking(
    client: TestClient, store: Store, held: list[int]
) -> None:
    with store.session() as s:
        s.add(SalesRep(username="gone", capacity=5, skills=["cards"], role="farmer", active=False))
        s.commit()
    sign_in(client, "marketer")
    page = client.get("/ui/reps")
    assert page.status_code == 200
    html = page.text
    assert _rows(html) == ["rita", "sales_rep"]
    mine = _row(html, "sales_rep")
    assert '<a href="/ui/reps/sales_rep">sales_rep</a>' in mine
    assert (_cell(mine, "open"), _cell(mine, "overdue"), _cell(mine, "capacity")) == (
        "2",
        "1",
        "50",
    )
    assert _cell(mine, "active") == "active"
    assert (_cell(_row(html, "rita"), "open"), _cell(_row(html, "rita"), "overdue")) == ("1", "0")
    assert '<a href="/ui/reps" aria-current="page">Reps</a>' in html
    # The nav bar puts the reps right after the leads.
    nav = re.findall(r'<a href="(/ui/[a-z]+)"', html.split('<nav aria-label="Main">')[1])
    assert nav[nav.index("/ui/leads") + 1] == "/ui/reps"
    every = client.get("/ui/reps?inactive=1").text
    assert _rows(every) == ["gone", "rita", "sales_rep"]
    gone = _row(every, "gone")
    assert _cell(gone, "active") == "inactive" and "cards" in gone and "farmer" in gone
    assert 'id="inactive" name="inactive" value="1" checked' in every


def test_a_reps_page_shows_their_figures_and_links_to_their_inbox(
    client: TestClient, held: list[int]
) -> None:
    sign_in(client, "analyst")
    page = client.get("/ui/reps/sales_rep")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'data-measure="open">.*?"value">2<', html, re.S)
    assert re.search(r'data-measure="overdue">.*?"value">1<', html, re.S)
    assert re.search(r'data-measure="room">.*?"value">48<', html, re.S)
    assert '<a href="/ui/leads?rep=sales_rep" id="inbox">' in html
    inbox = client.get("/ui/leads?rep=sales_rep").text
    assert sorted(int(x) for x in re.findall(r'<tr data-lead="(\d+)"', inbox)) == held[:2]
    assert client.get("/ui/reps/nobody").status_code == 404


# ----------------------------------------------------------------------------- adding


def test_a_marketer_adds_a_rep_and_the_waiting_leads_are_assigned_to_them(
    client: TestClient, store: Store, waiting: list[int]
) -> None:
    sign_in(client, "marketer")
    page = client.get("/ui/reps").text
    assert re.search(r'id="waiting">3 leads wait for a rep with room', page)
    assert '<option value="admin">' in page and '<option value="integration">' not in page
    r = post_form(client, "/ui/reps", "/ui/reps", NEW_REP)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/reps/ana?done=added&assigned=2"
    html = client.get(r.headers["location"]).text
    assert _done(html) == "Rep ana added; 2 waiting leads assigned."
    # Capacity 2: the two oldest leads are ana's, the third still waits.
    assert _holders(store) == {waiting[0]: "ana", waiting[1]: "ana", waiting[2]: None}
    ana = _reps(store)["ana"]
    assert {k: ana[k] for k in NEW_REP if k != "username"} == {
        "full_name": "Ana Lima",
        "territory": "Lisboa",
        "skills": ["cards", "loans"],
        "capacity": 2,
        "role": "farmer",
        "manager": "marketer",
    }
    assert _cell(_row(client.get("/ui/reps").text, "ana"), "open") == "2"
    # More room takes the lead still waiting.
    r = post_form(
        client, "/ui/reps/ana", "/ui/reps/ana", {**NEW_REP, "capacity": "5", "active": "on"}
    )
    assert r.status_code == 303
    assert _done(client.get(r.headers["location"]).text) == "Saved. 1 waiting lead assigned."
    assert _holders(store)[waiting[2]] == "ana"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("username", "a", "2-100 letters, digits or _ . @ -"),
        ("username", "ana lima", "2-100 letters, digits or _ . @ -"),
        ("capacity", "ten", "a whole number from 0 to 10000, got 'ten'"),
        ("capacity", "2.5", "a whole number from 0 to 10000"),
        ("capacity", "-1", "a whole number from 0 to 10000"),
        ("capacity", "20000", "a whole number from 0 to 10000, got 20000"),
        ("role", "closer", "unknown role 'closer'; roles are: hunter, farmer"),
        ("manager", "no body", "2-100 letters, digits or _ . @ -"),
        ("manager", "nobody", "no user or rep 'nobody'"),
        ("manager", "ana", "a rep cannot be their own manager"),
        ("full_name", "x" * 201, "at most 200 characters"),
        ("skills", "cards, " + "y" * 101, "at most 100 characters each"),
    ],
)
def test_a_refused_rep_is_named_next_to_its_field_keeps_what_was_typed_and_writes_nothing(
    client: TestClient, store: Store, waiting: list[int], field: str, value: str, says: str
) -> None:
    sign_in(client, "marketer")
    r = post_form(client, "/ui/reps", "/ui/reps", {**NEW_REP, field: value})
    assert r.status_code == 422
    assert says in _error(r.text, field)
    assert re.search(rf'<(input|select) id="{field}"[^>]*aria-invalid="true"', r.text, re.S)
    assert re.search(rf'<(input|select) id="{field}"[^>]*{field}-error', r.text, re.S)
    if field != "role":
        assert f'value="{value}"' in r.text
    assert 'value="Ana Lima"' in r.text or field == "full_name"
    assert _reps(store) == {}
    assert set(_holders(store).values()) == {None}
    assert _audits(store) == 0


def test_every_refused_field_is_named_at_once(
    client: TestClient, store: Store, held: list[int]
) -> None:
    sign_in(client, "admin")
    bad = {"username": "-", "capacity": "x", "role": "?", "manager": "nobody"}
    r = post_form(client, "/ui/reps", "/ui/reps", {**NEW_REP, **bad})
    assert r.status_code == 422
    fields = ("username", "full_name", "skills", "capacity", "role", "manager")
    assert [f for f in fields if f'id="{f}-error"' in r.text] == list(bad)
    assert "no user or rep 'nobody'" in _error(r.text, "manager")
    assert set(_reps(store)) == {"rita", "sales_rep"}
    # On a rep's page too, the manager with the rest.
    bad = {"capacity": "-5", "manager": "sales_rep"}
    r = post_form(client, "/ui/reps/sales_rep", "/ui/reps/sales_rep", {**AS_IS, **bad})
    assert r.status_code == 422
    assert [f for f in fields if f'id="{f}-error"' in r.text] == list(bad)
    assert "their own manager" in _error(r.text, "manager")
    assert _reps(store)["sales_rep"]["capacity"] == 50
    assert _audits(store) == 0


def test_a_username_taken_is_refused_with_409_and_the_rep_is_left_as_they_were(
    client: TestClient, store: Store, held: list[int]
) -> None:
    before = _reps(store)
    sign_in(client, "marketer")
    r = post_form(client, "/ui/reps", "/ui/reps", {**NEW_REP, "username": "rita"})
    assert r.status_code == 409
    assert "rep 'rita' exists already" in _error(r.text, "username")
    assert 'value="Ana Lima"' in r.text
    assert _reps(store) == before
    assert _audits(store) == 0


# ----------------------------------------------------------------------------- changing


def test_deactivating_a_rep_hands_their_open_leads_to_the_others(
    client: TestClient, store: Store, held: list[int]
) -> None:
    sign_in(client, "marketer")
    page = client.get("/ui/reps/sales_rep").text
    assert 'id="active" name="active" value="on"' in page and "checked" in page
    changed = {k: v for k, v in AS_IS.items() if k != "active"}  # the box unticked
    r = post_form(client, "/ui/reps/sales_rep", "/ui/reps/sales_rep", changed)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/reps/sales_rep?done=saved&released=2&assigned=2"
    html = client.get(r.headers["location"]).text
    assert _done(html) == "Saved. 2 open leads released; 2 re-assigned to other reps."
    assert "(inactive)" in html
    assert _holders(store) == {held[0]: "rita", held[1]: "rita", held[2]: "rita"}
    reps = _reps(store)
    assert reps["sales_rep"]["active"] is False and reps["sales_rep"]["open_leads"] == 0
    assert reps["rita"]["open_leads"] == 3
    assert _rows(client.get("/ui/reps").text) == ["rita"]


def test_a_deactivated_reps_leads_wait_when_nobody_has_room(
    client: TestClient, store: Store, held: list[int]
) -> None:
    with store.session() as s:
        sales.update_rep(s, "rita", capacity=1, actor="t")
        s.commit()
    sign_in(client, "marketer")
    changed = {k: v for k, v in AS_IS.items() if k != "active"}
    r = post_form(client, "/ui/reps/sales_rep", "/ui/reps/sales_rep", changed)
    assert r.status_code == 303
    html = client.get(r.headers["location"]).text
    assert "2 open leads released; none re-assigned" in _done(html)
    assert _holders(store) == {held[0]: None, held[1]: None, held[2]: "rita"}


def test_a_marketer_changes_a_reps_territory_skills_role_and_manager(
    client: TestClient, store: Store, held: list[int]
) -> None:
    sign_in(client, "marketer")
    data = {**AS_IS, "territory": "Porto", "skills": "loans", "role": "farmer", "manager": "rita"}
    r = post_form(client, "/ui/reps/sales_rep", "/ui/reps/sales_rep", data)
    assert r.status_code == 303 and _done(client.get(r.headers["location"]).text) == "Saved."
    mine = _reps(store)["sales_rep"]
    assert (mine["territory"], mine["skills"], mine["role"], mine["manager"]) == (
        "Porto",
        ["loans"],
        "farmer",
        "rita",
    )
    assert mine["active"] is True and mine["open_leads"] == 2
    # Empty fields clear the territory and the manager.
    r = post_form(client, "/ui/reps/sales_rep", "/ui/reps/sales_rep", AS_IS)
    assert r.status_code == 303
    mine = _reps(store)["sales_rep"]
    assert (mine["territory"], mine["manager"]) == (None, None)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("capacity", "many", "a whole number from 0 to 10000"),
        ("capacity", "10001", "a whole number from 0 to 10000"),
        ("role", "boss", "unknown role"),
        ("manager", "sales_rep", "a rep cannot be their own manager"),
        ("manager", "ghost", "no user or rep 'ghost'"),
        ("territory", "t" * 101, "at most 100 characters"),
    ],
)
def test_a_refused_change_is_named_next_to_its_field_and_nothing_is_written(
    client: TestClient, store: Store, held: list[int], field: str, value: str, says: str
) -> None:
    before, holders = _reps(store), _holders(store)
    sign_in(client, "marketer")
    # The box unticked too: a refused form deactivates nobody.
    data = {**AS_IS, "full_name": "Sam Sales", field: value}
    del data["active"]
    r = post_form(client, "/ui/reps/sales_rep", "/ui/reps/sales_rep", data)
    assert r.status_code == 422
    assert says in _error(r.text, field)
    assert re.search(rf'<(input|select) id="{field}"[^>]*aria-invalid="true"', r.text, re.S)
    assert 'value="Sam Sales"' in r.text
    if field != "role":
        assert f'value="{value}"' in r.text
    assert _reps(store) == before and _holders(store) == holders
    assert _audits(store) == 0


def test_a_manager_set_elsewhere_is_kept_though_nobody_has_that_name(
    client: TestClient, store: Store, held: list[int]
) -> None:
    with store.session() as s:
        s.execute(sa.update(SalesRep).where(SalesRep.username == "rita").values(manager="olga"))
        s.commit()
    sign_in(client, "marketer")
    page = client.get("/ui/reps/rita").text
    assert 'id="manager" name="manager" type="text" value="olga"' in page
    data = {**AS_IS, "capacity": "40", "manager": "olga"}
    r = post_form(client, "/ui/reps/rita", "/ui/reps/rita", data)
    assert r.status_code == 303
    rita = _reps(store)["rita"]
    assert (rita["capacity"], rita["manager"]) == (40, "olga")


# ----------------------------------------------------------------------------- who may


def test_a_sales_rep_reads_the_reps_but_may_not_change_them(
    client: TestClient, store: Store, held: list[int]
) -> None:
    before, holders = _reps(store), _holders(store)
    sign_in(client, "sales_rep")
    listing = client.get("/ui/reps")
    assert listing.status_code == 200 and _rows(listing.text) == ["rita", "sales_rep"]
    assert "Add a rep" not in listing.text and 'method="post" action="/ui/reps"' not in listing.text
    assert "<datalist" not in listing.text  # the users' names are the form's only
    page = client.get("/ui/reps/sales_rep")
    assert page.status_code == 200 and "Save changes" not in page.text
    csrf = csrf_of(page.text)
    r = client.post("/ui/reps", data={**NEW_REP, "csrf": csrf})
    assert r.status_code == 403 and "may not manage sales reps" in r.text
    r = client.post("/ui/reps/sales_rep", data={**AS_IS, "capacity": "500", "csrf": csrf})
    assert r.status_code == 403
    r = client.post("/ui/reps/rita", data={"csrf": csrf})  # unticked: would deactivate
    assert r.status_code == 403
    assert _reps(store) == before and _holders(store) == holders
    assert _audits(store) == 0


def test_an_analyst_reads_the_reps_and_an_integration_may_not(
    client: TestClient, store: Store, held: list[int]
) -> None:
    r = client.get("/ui/reps", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
    sign_in(client, "analyst")
    listing = client.get("/ui/reps")
    assert listing.status_code == 200 and _rows(listing.text) == ["rita", "sales_rep"]
    assert "Add a rep" not in listing.text
    r = client.post("/ui/reps", data={**NEW_REP, "csrf": csrf_of(listing.text)})
    assert r.status_code == 403
    assert "ana" not in _reps(store)
    client.cookies.clear()
    sign_in(client, "integration")
    for path in ("/ui/reps", "/ui/reps/rita"):
        page = client.get(path)
        assert page.status_code == 403 and "Not allowed" in page.text
    assert "/ui/reps" not in client.get("/ui/reps").text.split("</nav>")[0]


def test_a_forged_form_is_refused_and_nothing_is_written(
    client: TestClient, store: Store, held: list[int]
) -> None:
    before, holders = _reps(store), _holders(store)
    sign_in(client, "marketer")
    client.get("/ui/reps")
    r = client.post("/ui/reps", data={**NEW_REP, "csrf": "forged"})
    assert r.status_code == 403 and "add a rep without this application's form" in unescape(r.text)
    r = client.post("/ui/reps/sales_rep", data={**AS_IS, "capacity": "9", "csrf": "forged"})
    assert r.status_code == 403
    r = client.post("/ui/reps/sales_rep", data={"csrf": ""})
    assert r.status_code == 403
    assert _reps(store) == before and _holders(store) == holders
    assert _audits(store) == 0
