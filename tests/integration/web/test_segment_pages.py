"""The segments pages: the list, the rule editor's live check, create, change, delete."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.services import segments
from tactica.store.db import Store
from tactica.store.models import AuditEntry, Segment
from tests.integration.web.conftest import csrf_of, post_form, sign_in


def _segment_names(store: Store) -> list[str]:
    with store.session() as s:
        return sorted(s.scalars(sa.select(Segment.name)))


def _check(client: TestClient, rule: str) -> str:
    page = client.get("/ui/segments").text
    r = client.post("/ui/segments/check", data={"rule": rule, "csrf": csrf_of(page)})
    assert r.status_code == 200, r.text
    return r.text


def test_the_list_shows_every_segment_with_its_size(client: TestClient, marketing: Store) -> None:
    sign_in(client, "analyst")
    page = client.get("/ui/segments").text
    row = re.search(r'<tr data-segment="young">(.*?)</tr>', page, re.S)
    assert row is not None
    assert ">20<" in row.group(1)  # ages 20..39
    # An analyst reads segments but has no form to create one, and may not post one.
    assert "New segment" not in page
    r = client.post("/ui/segments", data={"name": "x", "rule": "age > 1", "csrf": csrf_of(page)})
    assert r.status_code == 403
    assert _segment_names(marketing) == ["young"]


def test_the_rule_editor_sizes_a_valid_rule_and_marks_where_a_wrong_one_fails(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    ok = _check(client, "age >= 50 and balance > 0")
    assert 'data-valid="true"' in ok and "<strong data-size>10</strong>" in ok
    bad = _check(client, "age >= 50 and\nbalanse > 0")
    assert 'data-valid="false"' in bad
    # The unknown field is underlined on line 2, where it stands, and named.
    marked = re.search(r'<mark class="rule-problem"[^>]*>([^<]*)</mark>', bad)
    assert marked is not None and marked.group(1) == "balanse"
    assert "line 2, column 1:" in bad and "balanse" in bad
    # A problem at the end of the rule (something missing) still marks a place.
    end = _check(client, "age >=")
    assert '<mark class="rule-problem"' in end and "line 1, column" in end
    # Not a condition: said so, not sized.
    number = _check(client, "age + 1")
    assert "a condition (true or false) is needed here" in number


def test_a_marketer_creates_a_segment_and_sees_its_size_and_profile(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    r = post_form(
        client,
        "/ui/segments",
        "/ui/segments",
        {"name": "rich", "description": "High balances", "kind": "rule", "rule": "balance >= 6000"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/segments/rich"
    page = client.get("/ui/segments/rich").text
    assert re.search(r'data-measure="size">.*?<span class="value">10</span>', page, re.S)
    # The profile: age quantiles of the 10 richest (ages 50..59).
    row = re.search(r"<th scope=\"row\">age</th>(.*?)</tr>", page, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells[0] == "50" and cells[4] == "59"
    with marketing.session() as s:
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.entity_id == "rich")).one()
        assert entry.actor == "user:marketer"


def test_a_wrong_rule_is_refused_with_its_problems_marked_and_nothing_saved(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    r = post_form(
        client,
        "/ui/segments",
        "/ui/segments",
        {"name": "oops", "description": "kept", "kind": "rule", "rule": "age >= 'x'"},
    )
    assert r.status_code == 422
    assert 'id="rule-error"' in r.text and 'aria-invalid="true"' in r.text
    assert '<mark class="rule-problem"' in r.text
    assert 'value="oops"' in r.text and 'value="kept"' in r.text
    assert "age &gt;= &#39;x&#39;</textarea>" in r.text
    assert _segment_names(marketing) == ["young"]


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"name": "young", "kind": "rule", "rule": "age > 1"}, "name", "exists already"),
        ({"name": "Bad Name", "kind": "rule", "rule": "age > 1"}, "name", "lower-case"),
        ({"name": "", "kind": "rule", "rule": "age > 1"}, "name", "give the segment a name"),
        ({"name": "fixed", "kind": "ids", "ids": "c01\nnobody"}, "ids", "not customers"),
        ({"name": "loop", "kind": "rule", "rule": "in_segment('loop')"}, "rule", ""),
    ],
)
def test_refused_fields_are_named_and_nothing_is_saved(
    client: TestClient, marketing: Store, data: dict[str, str], field: str, says: str
) -> None:
    sign_in(client, "marketer")
    r = post_form(client, "/ui/segments", "/ui/segments", data)
    assert r.status_code == 422, r.text
    error = re.search(rf'id="{field}-error">([^<]*)<', r.text)
    assert error is not None, r.text
    assert says in error.group(1)
    assert _segment_names(marketing) == ["young"]


def test_a_static_segment_from_ids(client: TestClient, marketing: Store) -> None:
    sign_in(client, "marketer")
    r = post_form(
        client, "/ui/segments", "/ui/segments", {"name": "vip", "kind": "ids", "ids": "c01\nc02\n"}
    )
    assert r.status_code == 303
    with marketing.session() as s:
        assert segments.segment_size(s, "vip") == 2


def test_change_a_rule_and_delete_only_what_no_rule_uses(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    post_form(
        client,
        "/ui/segments",
        "/ui/segments",
        {"name": "young-rich", "kind": "rule", "rule": "in_segment('young') and balance > 4000"},
    )
    r = post_form(
        client,
        "/ui/segments/young",
        "/ui/segments/young",
        {"rule": "age < 30", "description": "Under 30"},
    )
    assert r.status_code == 303
    assert "Saved." in client.get(r.headers["location"]).text
    with marketing.session() as s:
        assert segments.segment_size(s, "young") == 10
        assert segments.get_segment(s, "young").description == "Under 30"
    # A bad rule on the edit form: marked, the old rule kept.
    r = post_form(client, "/ui/segments/young", "/ui/segments/young", {"rule": "age <"})
    assert r.status_code == 422 and '<mark class="rule-problem"' in r.text
    with marketing.session() as s:
        assert segments.get_segment(s, "young").rule == "age < 30"
    # 'young' is used by 'young-rich': deleting it is refused and says why.
    r = post_form(client, "/ui/segments/young", "/ui/segments/young/delete", {})
    assert r.status_code == 409 and "young-rich" in r.text
    r = post_form(client, "/ui/segments/young-rich", "/ui/segments/young-rich/delete", {})
    assert r.status_code == 303
    assert _segment_names(marketing) == ["young"]


def test_a_forged_form_and_an_unknown_segment(client: TestClient, marketing: Store) -> None:
    sign_in(client, "marketer")
    r = client.post("/ui/segments", data={"name": "x", "rule": "age > 1", "csrf": "forged"})
    assert r.status_code == 403
    assert _segment_names(marketing) == ["young"]
    assert client.get("/ui/segments/nope").status_code == 404
