"""Special lists on both databases: entries, channels, expiry, import and export."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tactica.errors import Conflict, ImportRejected, InvalidInput, NotFound
from tactica.services import audit, lists
from tactica.store.db import Store


def test_default_lists_exist_and_start_empty(store: Store) -> None:
    with store.session() as s:
        got = {row["name"]: (row["kind"], row["size"]) for row in lists.list_lists(s)}
    assert got == {
        "blacklist": ("blacklist", 0),
        "complaints": ("complaint", 0),
        "dnd": ("dnd", 0),
        "opt_out": ("opt_out", 0),
        "vip": ("vip", 0),
    }


def test_entries_per_channel_and_refresh(store: Store) -> None:
    with store.session() as s:
        lists.add_entry(s, "opt_out", lists.EntryInput("c1", "sms", "reply", "STOP"), actor="t")
        lists.add_entry(s, "opt_out", lists.EntryInput("c1", "email"), actor="t")
        # Same customer and channel again: the entry is refreshed, not duplicated.
        lists.add_entry(
            s, "opt_out", lists.EntryInput("c1", "sms", "reply", "STOP again"), actor="t"
        )
        s.commit()
        got = sorted((e["channel"], e["reason"]) for e in lists.entries(s, "opt_out"))
        assert got == [("email", ""), ("sms", "STOP again")]
        assert [row["size"] for row in lists.list_lists(s) if row["name"] == "opt_out"] == [2]
        assert {e["list"] for e in lists.lists_of_customer(s, "c1")} == {"opt_out"}


def test_expired_entries_are_not_in_force(store: Store) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    future = datetime.now(UTC) + timedelta(days=1)
    with store.session() as s:
        lists.add_entry(s, "dnd", lists.EntryInput("old", expires_at=past), actor="t")
        lists.add_entry(s, "dnd", lists.EntryInput("new", expires_at=future), actor="t")
        s.commit()
        assert [e["customer_id"] for e in lists.entries(s, "dnd")] == ["new"]
        every = {e["customer_id"] for e in lists.entries(s, "dnd", include_expired=True)}
        assert every == {"old", "new"}
        (entry,) = lists.entries(s, "dnd")
        assert abs((entry["expires_at"] - future).total_seconds()) < 1


def test_bad_channel_and_unknown_list_say_what_is_wrong(store: Store) -> None:
    with store.session() as s:
        with pytest.raises(InvalidInput, match="channel must be 'all' or one of"):
            lists.add_entry(s, "vip", lists.EntryInput("c1", "fax"), actor="t")
        with pytest.raises(NotFound, match="lists are: blacklist, complaints, dnd, opt_out, vip"):
            lists.add_entry(s, "vipz", lists.EntryInput("c1"), actor="t")
        with pytest.raises(Conflict):
            lists.create_list(s, "vip", "vip", actor="t")
        with pytest.raises(InvalidInput, match="unknown kind"):
            lists.create_list(s, "gold", "gold", actor="t")


def test_import_is_all_or_nothing_and_names_rows(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "dnc.csv"
    bad.write_text("customer_id,channel,expires_at\nc1,sms,\nc2,fax,\n,all,\nc4,all,next week\n")
    with store.session() as s:
        with pytest.raises(ImportRejected) as err:
            lists.import_entries(s, "dnd", bad, actor="t")
        s.rollback()
        assert lists.entries(s, "dnd") == []
    e = err.value
    assert e.total_bad_rows == 3
    rendered = [p.render() for p in e.problems]
    assert (
        rendered[0] == f"{bad}, row 3, column 'channel': value 'fax' is not 'all' or a channel name"
    )
    assert "row 4, column 'customer_id'" in rendered[1]
    assert "row 5, column 'expires_at': value 'next week'" in rendered[2]


def test_export_then_import_round_trips(store: Store, tmp_path: Path) -> None:
    until = datetime(2099, 1, 31, 12, 0, tzinfo=UTC)
    with store.session() as s:
        lists.add_entry(
            s, "blacklist", lists.EntryInput("c1", "all", "fraud", "chargebacks", until), actor="t"
        )
        lists.add_entry(s, "blacklist", lists.EntryInput("c2", "sms", "ops"), actor="t")
        s.commit()
        buf = io.StringIO()
        assert lists.export_entries(s, "blacklist", buf) == 2
    path = tmp_path / "bl.csv"
    path.write_text(buf.getvalue())
    with store.session() as s:
        lists.create_list(s, "blacklist-copy", "blacklist", actor="t")
        assert lists.import_entries(s, "blacklist-copy", path, actor="t") == 2
        s.commit()
        copy = sorted(
            (e["customer_id"], e["channel"], e["source"], e["reason"], e["expires_at"])
            for e in lists.entries(s, "blacklist-copy")
        )
    assert copy == [("c1", "all", "fraud", "chargebacks", until), ("c2", "sms", "ops", "", None)]


def test_changes_are_audited(store: Store) -> None:
    with store.session() as s:
        lists.add_entry(s, "vip", lists.EntryInput("c9"), actor="user:ann")
        lists.remove_entry(s, "vip", "c9", actor="user:bob")
        s.commit()
        log = audit.list_entries(s, entity_type="special_list", entity_id="vip")
    assert [(e.actor, e.action) for e in log] == [("user:bob", "remove"), ("user:ann", "add")]


def test_a_list_a_rule_uses_cannot_be_deleted(store: Store) -> None:
    from tactica.services import segments

    with store.session() as s:
        lists.create_list(s, "staff", "blacklist", actor="t")
        segments.create_segment(s, "outsiders", rule="not on_list('staff')", actor="t")
        with pytest.raises(Conflict, match="used by segment outsiders"):
            lists.delete_list(s, "staff", actor="t")
        segments.delete_segment(s, "outsiders", actor="t")
        lists.delete_list(s, "staff", actor="t")
        s.commit()
        assert "staff" not in lists.list_names(s)


def test_an_opt_out_list_is_deleted_only_when_nobody_is_on_it(store: Store) -> None:
    with store.session() as s:
        lists.create_list(s, "stop-sms", "opt_out", actor="t")
        lists.add_entry(s, "stop-sms", lists.EntryInput("c1", "sms"), actor="t")
        with pytest.raises(Conflict, match="holds 1 customer who asked not to be contacted"):
            lists.delete_list(s, "stop-sms", actor="t")
        assert lists.list_size(s, "stop-sms") == 1
        lists.remove_entry(s, "stop-sms", "c1", "sms", actor="t")
        lists.delete_list(s, "stop-sms", actor="t")
        s.commit()
        assert "stop-sms" not in lists.list_names(s)
