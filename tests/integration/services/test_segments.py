"""Segments on both databases: rules compiled to the store's SQL, static lists, size,
profile, overlap, and the references between segments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tactica.domain.schema import FieldDef, FieldType
from tactica.errors import Conflict, InvalidInput, NotFound, RuleError
from tactica.services import lists, segments
from tactica.store.customer_table import add_fields, customer_table, load_schema
from tactica.store.db import Store

ROWS = [
    # id, age, job, balance, last_purchase, consent_sms, msisdn
    ("c1", 25, "student", 100.0, date(2026, 11, 1), True, "+3519100001"),
    ("c2", 34, "admin.", 2500.5, date(2026, 5, 1), True, None),
    ("c3", 47, "admin.", -20.0, None, False, "+3519100003"),
    ("c4", 61, "retired", 9000.0, date(2025, 1, 1), None, "+3519100004"),
    ("c5", 19, "student", None, date(2026, 11, 20), True, "+3519100005"),
    ("c6", 38, "technician", 700.0, date(2026, 10, 1), False, None),
]


@pytest.fixture
def people(store: Store) -> Store:
    """Six customers with numbers, categories, dates, consents and contact points."""
    with store.session() as s:
        add_fields(
            s,
            [
                FieldDef("age", FieldType.INT),
                FieldDef("job", FieldType.CATEGORY),
                FieldDef("balance", FieldType.FLOAT),
                FieldDef("last_purchase", FieldType.DATE),
            ],
        )
        t = customer_table(load_schema(s))
        s.execute(
            sa.insert(t),
            [
                dict(
                    zip(
                        ("id", "age", "job", "balance", "last_purchase", "consent_sms", "msisdn"),
                        r,
                        strict=True,
                    )
                )
                for r in ROWS
            ],
        )
        s.commit()
    return store


def members(store: Store, name: str) -> set[str]:
    with store.session() as s:
        cond = segments.membership_sql(s, name, s.get_bind().dialect.name)
        return set(s.scalars(sa.text(f"SELECT id FROM customers WHERE {cond}")))


def test_dynamic_segment_size_follows_the_data(people: Store) -> None:
    with people.session() as s:
        segments.create_segment(s, "admins", rule="job = 'admin.' and age >= 30", actor="t")
        s.commit()
        assert segments.segment_size(s, "admins") == 2
        s.execute(sa.text("UPDATE customers SET job = 'admin.' WHERE id = 'c6'"))
        s.commit()
        assert segments.segment_size(s, "admins") == 3


def test_three_valued_logic_and_dates(people: Store) -> None:
    with people.session() as s:
        segments.create_segment(s, "not-rich", rule="not balance > 1000", actor="t")
        segments.create_segment(
            s, "recent", rule="last_purchase >= '2026-10-01' or consent_sms is null", actor="t"
        )
        s.commit()
    # c5 has no balance: "not (null > 1000)" is null, so c5 is not in the segment.
    assert members(people, "not-rich") == {"c1", "c3", "c6"}
    assert members(people, "recent") == {"c1", "c4", "c5", "c6"}


def test_static_segment_and_unknown_ids(people: Store) -> None:
    with people.session() as s:
        with pytest.raises(InvalidInput, match="2 id\\(s\\) are not customers: x1, x2"):
            segments.create_segment(s, "vips", ids=["c1", "x1", "x2"], actor="t")
        s.rollback()
        segments.create_segment(s, "vips", ids=["c1", "c3"], actor="t")
        assert segments.add_members(s, "vips", ["c3", "c4"], actor="t") == 1
        s.commit()
        with pytest.raises(Conflict, match="static"):
            segments.update_segment(s, "vips", rule="age > 1", actor="t")
    assert members(people, "vips") == {"c1", "c3", "c4"}


def test_segments_and_lists_inside_rules(people: Store) -> None:
    with people.session() as s:
        segments.create_segment(s, "young", rule="age < 30", actor="t")
        segments.create_segment(s, "vip-ids", ids=["c4"], actor="t")
        lists.add_entry(s, "opt_out", lists.EntryInput("c1", "sms"), actor="t")
        past = datetime.now(UTC) - timedelta(days=1)
        lists.add_entry(s, "opt_out", lists.EntryInput("c5", expires_at=past), actor="t")
        segments.create_segment(
            s,
            "reachable-young",
            rule="in_segment('young') and consent_sms and not on_list('opt_out')",
            actor="t",
        )
        segments.create_segment(
            s, "young-or-vip", rule="in_segment('young') or in_segment('vip-ids')", actor="t"
        )
        s.commit()
    # c1 opted out; c5's opt-out has expired.
    assert members(people, "reachable-young") == {"c5"}
    assert members(people, "young-or-vip") == {"c1", "c4", "c5"}


def test_loops_and_deleting_used_segments_are_refused(people: Store) -> None:
    with people.session() as s:
        segments.create_segment(s, "a", rule="age > 20", actor="t")
        segments.create_segment(s, "b", rule="in_segment('a') and age < 60", actor="t")
        with pytest.raises(InvalidInput, match="loop: a → b → a"):
            segments.update_segment(s, "a", rule="in_segment('b')", actor="t")
        with pytest.raises(Conflict, match="used by segment b"):
            segments.delete_segment(s, "a", actor="t")
        segments.delete_segment(s, "b", actor="t")
        segments.delete_segment(s, "a", actor="t")
        s.commit()
        with pytest.raises(NotFound):
            segments.get_segment(s, "a")


def test_bad_rules_say_where(people: Store) -> None:
    with people.session() as s:
        with pytest.raises(RuleError) as err:
            segments.create_segment(s, "x", rule="age >= 30 and jb = 'admin.'", actor="t")
        assert (err.value.line, err.value.col) == (1, 15)
        assert "did you mean 'job'" in str(err.value)
        with pytest.raises(RuleError, match="must be a condition"):
            segments.create_segment(s, "y", rule="age + 1", actor="t")
        with pytest.raises(RuleError, match="segment"):
            segments.create_segment(s, "z", rule="in_segment('nope')", actor="t")


def test_overlap(people: Store) -> None:
    with people.session() as s:
        segments.create_segment(s, "young", rule="age < 40", actor="t")
        segments.create_segment(s, "students", rule="job = 'student'", actor="t")
        segments.create_segment(s, "admins", rule="job = 'admin.'", actor="t")
        s.commit()
        assert segments.overlap(s, "young", "students") == {
            "a": 4,
            "b": 2,
            "both": 2,
            "either": 4,
            "only_a": 2,
            "only_b": 0,
        }
        assert segments.overlap(s, "students", "admins")["both"] == 0


def test_profile(people: Store) -> None:
    with people.session() as s:
        segments.create_segment(s, "everyone", rule="age > 0", actor="t")
        s.commit()
        prof = segments.profile(people, s, "everyone")
    assert prof["size"] == 6
    assert prof["categories"]["job"] == {"admin.": 2, "student": 2, "retired": 1, "technician": 1}
    age = prof["numbers"]["age"]
    assert (age["min"], age["max"], age["nulls"]) == (19, 61, 0)
    assert age["median"] == pytest.approx(36.0)
    assert prof["numbers"]["balance"]["nulls"] == 1
    assert prof["consent"]["sms"] == {"customers": 3, "share": 0.5}
    assert prof["contact_points"]["msisdn"]["customers"] == 4


def test_a_segment_an_offer_uses_cannot_be_deleted(people: Store) -> None:
    from tactica.services import offers

    with people.session() as s:
        segments.create_segment(s, "young", rule="age < 30", actor="t")
        offers.create_offer(
            s,
            offers.OfferInput(code="YTH", name="Youth", eligibility="in_segment('young')"),
            actor="t",
        )
        with pytest.raises(Conflict, match="used by offer YTH"):
            segments.delete_segment(s, "young", actor="t")
