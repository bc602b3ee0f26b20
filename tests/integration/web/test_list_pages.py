"""The special lists pages: every list with its size, a list's entries (pages, search),
adding, removing, importing a CSV file (all rows or none) and exporting one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.services import lists
from tactica.store.db import Store
from tactica.store.models import SpecialList, SpecialListEntry
from tests.integration.web.conftest import csrf_of, post_form, sign_in


def _weeks_ahead(weeks: int) -> str:
    """A day ``weeks`` from now, read when the test runs (a run may cross midnight)."""
    return (datetime.now(UTC) + timedelta(weeks=weeks)).date().isoformat()


def _entries(store: Store, list_name: str = "opt_out") -> list[tuple[str, str, str]]:
    """(customer, channel, reason) of every entry of a list, in the database."""
    with store.session() as s:
        rows = s.execute(
            sa.select(
                SpecialListEntry.customer_id, SpecialListEntry.channel, SpecialListEntry.reason
            )
            .join(SpecialList, SpecialList.id == SpecialListEntry.list_id)
            .where(SpecialList.name == list_name)
            .order_by(SpecialListEntry.customer_id, SpecialListEntry.channel)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _put(store: Store, list_name: str, *ids: str, channel: str = "all") -> None:
    with store.session() as s:
        items = [lists.EntryInput(i, channel, "test", f"reason {i}") for i in ids]
        lists.add_entries(s, list_name, items, actor="t")
        s.commit()


def _row(page: str, customer: str, channel: str) -> str:
    found = re.search(
        rf'<tr data-customer="{customer}" data-channel="{channel}">(.*?)</tr>', page, re.S
    )
    assert found is not None, page
    return found.group(1)


def _customers_shown(page: str) -> list[str]:
    return re.findall(r'<tr data-customer="([^"]*)"', page)


def test_every_list_is_shown_with_its_size_and_a_new_one_can_be_made(
    client: TestClient, store: Store
) -> None:
    _put(store, "opt_out", "c1", "c2")
    sign_in(client, "marketer")
    page = client.get("/ui/lists").text
    assert '<a href="/ui/lists" aria-current="page">Lists</a>' in page
    row = re.search(r'<tr data-list="opt_out">(.*?)</tr>', page, re.S)
    assert row is not None and '<td class="num">2</td>' in row.group(1)
    assert re.search(r'<tr data-list="vip">.*?<td class="num">0</td>', page, re.S)

    r = post_form(
        client,
        "/ui/lists",
        "/ui/lists",
        {"name": "vip-gold", "kind": "vip", "description": "Gold customers"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/lists/vip-gold?created=1"
    made = client.get(r.headers["location"]).text
    assert "List vip-gold created." in made and "Gold customers" in made
    with store.session() as s:
        assert s.scalar(sa.select(SpecialList.kind).where(SpecialList.name == "vip-gold")) == "vip"


@pytest.mark.parametrize(
    ("form", "field", "status", "says"),
    [
        ({"name": "Gold VIPs", "kind": "vip"}, "name", 422, "lower-case letters"),
        ({"name": "opt_out", "kind": "opt_out"}, "name", 409, "exists already"),
        ({"name": "gold", "kind": "friends"}, "kind", 422, "unknown kind"),
        ({"name": "", "kind": "vip"}, "name", 422, "give the list a name"),
    ],
)
def test_a_refused_list_is_named_by_its_field_and_nothing_is_made(
    client: TestClient, store: Store, form: dict[str, str], field: str, status: int, says: str
) -> None:
    sign_in(client, "marketer")
    r = post_form(client, "/ui/lists", "/ui/lists", {**form, "description": "typed"})
    assert r.status_code == status
    error = re.search(rf'<span class="error" id="{field}-error">([^<]*)</span>', r.text)
    assert error is not None and says in error.group(1)
    assert f'aria-describedby="{field}-hint {field}-error"' in r.text or (
        f'aria-invalid="true" aria-describedby="{field}-error"' in r.text
    )
    assert 'value="typed"' in r.text  # what was typed is kept
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(SpecialList)) == 5


def test_a_list_shows_its_entries_newest_first_fifty_a_page_and_searched(
    client: TestClient, store: Store
) -> None:
    _put(store, "blacklist", *[f"c{i:03d}" for i in range(120)])
    sign_in(client, "marketer")
    first = client.get("/ui/lists/blacklist").text
    assert '<span class="value">120</span>' in first
    assert _customers_shown(first) == [f"c{i:03d}" for i in range(119, 69, -1)]
    assert 'rel="next"' in first and 'rel="prev"' not in first
    last = client.get("/ui/lists/blacklist?page=3").text
    assert _customers_shown(last) == [f"c{i:03d}" for i in range(19, -1, -1)]
    assert 'rel="next"' not in last and 'rel="prev"' in last
    found = client.get("/ui/lists/blacklist?q=c11").text
    assert _customers_shown(found) == [f"c{i:03d}" for i in range(119, 109, -1)]
    assert 'value="c11"' in found
    # A search is a prefix of the id, not a pattern: '%' matches only itself.
    assert _customers_shown(client.get("/ui/lists/blacklist?q=%25").text) == []
    assert client.get("/ui/lists/nope").status_code == 404


def test_a_marketer_adds_a_customer_then_takes_them_off(client: TestClient, store: Store) -> None:
    sign_in(client, "marketer")
    expires = _weeks_ahead(4)
    r = post_form(
        client,
        "/ui/lists/opt_out",
        "/ui/lists/opt_out/entries",
        {
            "customer_id": "c42",
            "channel": "sms",
            "reason": "asked on the phone",
            "expires_at": expires,
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/lists/opt_out?added=c42"
    page = client.get(r.headers["location"]).text
    assert "c42 is on the list." in page
    row = _row(page, "c42", "sms")
    assert "asked on the phone" in row and f"{expires} 00:00" in row
    assert _entries(store) == [("c42", "sms", "asked on the phone")]
    with store.session() as s:
        entry = s.scalar(sa.select(SpecialListEntry))
        assert entry is not None
        assert (entry.source, entry.created_by) == ("manual", "user:marketer")

    r = post_form(
        client,
        "/ui/lists/opt_out",
        "/ui/lists/opt_out/remove",
        {"customer_id": "c42", "channel": "sms"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/lists/opt_out?removed=c42"
    assert "c42 was taken off the list." in client.get(r.headers["location"]).text
    assert _entries(store) == []
    # Taking off an entry that is not there (any more) says so.
    again = post_form(
        client, "/ui/lists/opt_out", "/ui/lists/opt_out/remove", {"customer_id": "c42"}
    )
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("form", "field", "says"),
    [
        ({"customer_id": ""}, "customer_id", "the customer&#39;s id"),
        ({"customer_id": "x" * 129}, "customer_id", "at most 128"),
        ({"channel": "fax"}, "channel", "&#39;all&#39; or one of"),
        ({"expires_at": "2020-01-01"}, "expires_at", "a day after today"),
        ({"expires_at": "next week"}, "expires_at", "is not a date"),
    ],
)
def test_a_refused_entry_is_named_by_its_field_keeps_what_was_typed_and_writes_nothing(
    client: TestClient, store: Store, form: dict[str, str], field: str, says: str
) -> None:
    sign_in(client, "marketer")
    typed = {"customer_id": "c7", "channel": "email", "reason": "typed reason", **form}
    r = post_form(client, "/ui/lists/dnd", "/ui/lists/dnd/entries", typed)
    assert r.status_code == 422
    error = re.search(rf'<span class="error" id="{field}-error">([^<]*)</span>', r.text)
    assert error is not None and says in error.group(1), r.text
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', r.text, re.S) or re.search(
        rf'id="{field}"[^>]*\n[^>]*aria-invalid="true"', r.text
    )
    assert 'value="typed reason"' in r.text
    if field != "channel":
        assert '<option value="email" selected>' in r.text
    assert _entries(store, "dnd") == []


def _upload(client: TestClient, list_name: str, name: str, content: bytes) -> httpx.Response:
    page = client.get(f"/ui/lists/{list_name}").text
    return client.post(
        f"/ui/lists/{list_name}/import",
        data={"csrf": csrf_of(page)},
        files={"file": (name, content, "text/csv")},
        follow_redirects=False,
    )


def test_an_import_with_a_bad_row_names_its_row_and_column_and_writes_nothing(
    client: TestClient, store: Store
) -> None:
    sign_in(client, "marketer")
    bad = (
        b"customer_id,channel,reason,expires_at\n"
        b"c1,sms,stop,\n"
        b"c2,fax,stop,\n"
        b"c3,all,moved,31/12/2030\n"
    )
    r = _upload(client, "opt_out", "stops.csv", bad)
    assert r.status_code == 422
    text = r.text
    assert "2 row(s) cannot be imported; nothing was written" in text
    problems = re.search(r'<ul class="error problems" id="file-problems">(.*?)</ul>', text, re.S)
    assert problems is not None
    assert "row 3, column <code>channel</code>: <code>fax</code>" in problems.group(1)
    assert "row 4, column <code>expires_at</code>: <code>31/12/2030</code>" in problems.group(1)
    assert 'aria-describedby="file-hint file-error file-problems"' in text
    assert _entries(store) == []  # the good row did not land either

    good = b"\xef\xbb\xbfcustomer_id,channel,reason\nc1,sms,stop\nc2,all,complained\n"
    r = _upload(client, "opt_out", "stops.csv", good)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/lists/opt_out?imported=2"
    assert "2 entries imported." in client.get("/ui/lists/opt_out?imported=2").text
    assert _entries(store) == [("c1", "sms", "stop"), ("c2", "all", "complained")]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("ids.csv", b"id,channel\nc1,sms\n", "needs a &#39;customer_id&#39; column"),
        ("latin1.csv", b"customer_id,reason\nc1,caf\xe9\n", "not UTF-8 text"),
        ("", b"", "choose a CSV file"),
    ],
)
def test_an_unreadable_file_is_refused_by_the_file_field(
    client: TestClient, store: Store, name: str, content: bytes, says: str
) -> None:
    sign_in(client, "marketer")
    r = _upload(client, "vip", name, content)
    assert r.status_code == 422
    error = re.search(r'<span class="error" id="file-error">([^<]*)</span>', r.text)
    assert error is not None and says in error.group(1)
    assert _entries(store, "vip") == []


def test_a_list_exports_as_the_csv_an_import_reads(client: TestClient, store: Store) -> None:
    _put(store, "vip", "v2", "v1", channel="email")
    sign_in(client, "marketer")
    page = client.get("/ui/lists/vip").text
    assert 'href="/ui/lists/vip/export" hx-boost="false" download' in page
    r = client.get("/ui/lists/vip/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="vip.csv"'
    lines = r.text.splitlines()
    assert lines[0] == "customer_id,channel,source,reason,created_at,expires_at"
    assert [line.split(",")[:4] for line in lines[1:]] == [
        ["v1", "email", "test", "reason v1"],
        ["v2", "email", "test", "reason v2"],
    ]
    # What was exported imports again onto another list as it was.
    r = _upload(client, "blacklist", "vip.csv", r.content)
    assert r.status_code == 303
    assert _entries(store, "blacklist") == _entries(store, "vip")


def test_an_analyst_may_not_use_the_lists_pages(client: TestClient, store: Store) -> None:
    _put(store, "opt_out", "c1")
    sign_in(client, "analyst")
    dashboard = client.get("/ui/dashboard").text
    assert 'href="/ui/lists"' not in dashboard  # no link in the navigation
    for path in ("/ui/lists", "/ui/lists/opt_out", "/ui/lists/opt_out/export"):
        r = client.get(path)
        assert r.status_code == 403 and "may not manage special lists" in r.text
    csrf = csrf_of(dashboard)
    posts = [
        ("/ui/lists", {"name": "mine", "kind": "vip"}),
        ("/ui/lists/opt_out/entries", {"customer_id": "c9"}),
        ("/ui/lists/opt_out/remove", {"customer_id": "c1", "channel": "all"}),
        ("/ui/lists/opt_out/import", {}),
        ("/ui/lists/vip/delete", {}),
    ]
    for action, data in posts:
        r = client.post(action, data={**data, "csrf": csrf}, follow_redirects=False)
        assert r.status_code == 403, action
    assert _entries(store) == [("c1", "all", "reason c1")]
    with store.session() as s:
        assert s.scalar(sa.select(SpecialList.id).where(SpecialList.name == "mine")) is None


def test_a_form_from_elsewhere_is_refused(client: TestClient, store: Store) -> None:
    _put(store, "opt_out", "c1")
    sign_in(client, "marketer")
    posts = [
        ("/ui/lists", {"name": "mine", "kind": "vip"}),
        ("/ui/lists/opt_out/entries", {"customer_id": "c9", "channel": "all"}),
        ("/ui/lists/opt_out/remove", {"customer_id": "c1", "channel": "all"}),
        ("/ui/lists/vip/delete", {}),
    ]
    for action, data in posts:
        r = client.post(action, data={**data, "csrf": "forged"}, follow_redirects=False)
        assert r.status_code == 403, action
    r = client.post(
        "/ui/lists/opt_out/import",
        data={"csrf": "forged"},
        files={"file": ("x.csv", b"customer_id\nc5\n", "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert _entries(store) == [("c1", "all", "reason c1")]


def _names(store: Store) -> list[str]:
    with store.session() as s:
        return lists.list_names(s)


def test_a_marketer_deletes_a_list_with_its_entries(client: TestClient, store: Store) -> None:
    _put(store, "vip", "c1", "c2")
    sign_in(client, "marketer")
    page = "/ui/lists/vip"
    assert 'hx-confirm="Delete list vip and its 2 entries?"' in client.get(page).text
    r = post_form(client, page, f"{page}/delete", {})
    assert r.status_code == 303
    assert "List vip deleted." in client.get(r.headers["location"]).text
    assert "vip" not in _names(store)
    assert _entries(store, "vip") == []
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(SpecialListEntry)) == 0


def test_a_list_a_rule_tests_or_an_opt_out_list_with_someone_on_it_is_kept(
    client: TestClient, store: Store
) -> None:
    from tactica.services import segments

    _put(store, "opt_out", "c1")
    with store.session() as s:
        segments.create_segment(s, "loyal", rule="on_list('vip')", actor="t")
        s.commit()
    sign_in(client, "marketer")
    for name, said in [
        ("vip", "list &#39;vip&#39; is used by segment loyal"),
        ("opt_out", "holds 1 customer who asked not to be contacted"),
    ]:
        page = f"/ui/lists/{name}"
        r = post_form(client, page, f"{page}/delete", {})
        assert r.status_code == 409 and 'id="refused"' in r.text and said in r.text, name
        assert name in _names(store)
    assert _entries(store) == [("c1", "all", "reason c1")]
    r = post_form(client, "/ui/lists", "/ui/lists/nowhere/delete", {})
    assert r.status_code == 404


def test_signed_out_the_pages_ask_for_a_sign_in(client: TestClient) -> None:
    r = client.get("/ui/lists/opt_out", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login?next=")
