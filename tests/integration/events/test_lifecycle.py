"""Lifecycle events: found in the customer table, taken once, generated once a day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tactica.config import get_settings
from tactica.domain.lifecycle import LifecycleKind, LifecycleSpec
from tactica.domain.schema import FieldDef, FieldType
from tactica.errors import InvalidInput
from tactica.services import as_code, events, lifecycle, scheduler
from tactica.store.customer_table import add_fields, customer_table, drop_field, load_schema
from tactica.store.db import Store
from tactica.store.models import ChangeStamp, Contact, EventRow
from tests.conftest import Tactica
from tests.integration.events.conftest import DOCS, NOW

DAY = NOW.date()  # 2026-11-24

TYPES = """\
kind: EventType
name: birthday
fields: {age: int}
lifecycle: {kind: birthday, field: birth_date}
---
kind: EventType
name: tenure_anniversary
fields: {years: int}
lifecycle: {kind: anniversary, field: joined_on}
---
kind: EventType
name: inactive_30d
fields: {days: int}
lifecycle: {kind: inactivity, field: last_activity, days: 30}
---
kind: EventType
name: contract_ending
fields: {days_left: int}
lifecycle: {kind: contract_end, field: contract_end, days: 30}
"""


def _with_birthday_gift() -> str:
    """The fixture's program with one more campaign: a gift on adult birthdays."""
    (program,) = [d for d in yaml.safe_load_all(DOCS) if d["kind"] == "Program"]
    program["campaigns"].append(
        {
            "name": "birthday-gift",
            "kind": "triggered",
            "events": ["birthday"],
            "eligibility": "event.age >= 18",
            "offers": ["DATA-5GB"],
            "channels": ["sms"],
        }
    )
    return yaml.safe_dump(program, sort_keys=False)


PROGRAM = _with_birthday_gift()

DATES: dict[str, dict[str, Any]] = {
    "c01": {"birth_date": date(1990, 11, 24), "last_activity": datetime(2026, 10, 25, 23, 59, 59)},
    "c02": {"birth_date": date(2008, 11, 24), "last_activity": datetime(2026, 10, 25)},
    "c03": {"birth_date": date(2010, 11, 24), "last_activity": datetime(2026, 10, 26)},
    "c04": {"birth_date": date(1985, 11, 25), "last_activity": datetime(2026, 10, 24, 23, 59)},
    "c05": {"birth_date": date(2026, 11, 24)},  # born today: no birthday yet
    "c06": {"contract_end": date(2026, 12, 24)},
    "c07": {"birth_date": date(1970, 11, 24), "contract_end": date(2026, 12, 25)},
    "c08": {"joined_on": date(2020, 11, 24)},
    "c09": {"joined_on": date(2026, 11, 24), "birth_date": date(1992, 2, 29)},
    "c10": {"birth_date": date(1990, 2, 28)},
    "c11": {"birth_date": date(1990, 3, 1)},
}


def _declare(store: Store, apply_docs: Callable[[str], None]) -> None:
    with store.session() as s:
        add_fields(
            s,
            [
                FieldDef("birth_date", FieldType.DATE),
                FieldDef("joined_on", FieldType.DATE),
                FieldDef("last_activity", FieldType.TIMESTAMP),
                FieldDef("contract_end", FieldType.DATE),
            ],
        )
        table = customer_table(load_schema(s))
        for cid, values in DATES.items():
            s.execute(sa.update(table).where(table.c.id == cid).values(**values))
        s.commit()
    apply_docs(TYPES + "---\n" + PROGRAM)


@pytest.fixture
def lifecycle_store(events_store: Store, apply_docs: Callable[[str], None]) -> Store:
    """The events store with four lifecycle types, customers' dates and a birthday campaign."""
    _declare(events_store, apply_docs)
    return events_store


def _events(store: Store) -> dict[str, tuple[str, dict[str, Any], datetime, str]]:
    with store.session() as s:
        return {
            e.event_id: (e.customer_id, e.payload, e.occurred_at, e.source)
            for e in s.scalars(sa.select(EventRow))
        }


def _contacts(store: Store) -> list[tuple[str, str]]:
    with store.session() as s:
        return [
            (c.customer_id, c.campaign) for c in s.scalars(sa.select(Contact).order_by(Contact.id))
        ]


def _by_type(result: lifecycle.LifecycleResult) -> dict[str, tuple[int, int, int, int]]:
    return {t.event_type: (t.fired, t.decided, t.duplicates, t.contacts) for t in result.types}


def test_the_day_s_moments_become_events_and_the_birthdays_contacts(
    lifecycle_store: Store,
) -> None:
    result = lifecycle.generate(lifecycle_store, DAY, now=NOW)

    assert result.problems == []
    assert _by_type(result) == {
        "birthday": (4, 4, 0, 2),
        "contract_ending": (1, 1, 0, 0),
        "inactive_30d": (2, 2, 0, 0),
        "tenure_anniversary": (1, 1, 0, 0),
    }
    midnight = datetime(2026, 11, 24, tzinfo=UTC)
    assert _events(lifecycle_store) == {
        "lifecycle:birthday:c01:2026-11-24": ("c01", {"age": 36}, midnight, "lifecycle"),
        "lifecycle:birthday:c02:2026-11-24": ("c02", {"age": 18}, midnight, "lifecycle"),
        "lifecycle:birthday:c03:2026-11-24": ("c03", {"age": 16}, midnight, "lifecycle"),
        "lifecycle:birthday:c07:2026-11-24": ("c07", {"age": 56}, midnight, "lifecycle"),
        "lifecycle:inactive_30d:c01:2026-11-24": ("c01", {"days": 30}, midnight, "lifecycle"),
        "lifecycle:inactive_30d:c02:2026-11-24": ("c02", {"days": 30}, midnight, "lifecycle"),
        "lifecycle:contract_ending:c06:2026-11-24": (
            "c06",
            {"days_left": 30},
            midnight,
            "lifecycle",
        ),
        "lifecycle:tenure_anniversary:c08:2026-11-24": (
            "c08",
            {"years": 6},
            midnight,
            "lifecycle",
        ),
    }
    # c03 is 16 (the rule asks 18); c07 has no mobile number.
    assert _contacts(lifecycle_store) == [("c01", "birthday-gift"), ("c02", "birthday-gift")]
    with lifecycle_store.session() as s:
        why = s.scalar(
            sa.select(EventRow.decisions).where(
                EventRow.event_id == "lifecycle:birthday:c07:2026-11-24"
            )
        )
    assert why is not None and why[0]["reason"] == "no msisdn"


def test_the_same_day_again_finds_only_duplicates_and_contacts_nobody(
    lifecycle_store: Store,
) -> None:
    first = lifecycle.generate(lifecycle_store, DAY, now=NOW)
    again = lifecycle.generate(lifecycle_store, DAY, now=NOW + timedelta(hours=3))

    assert (first.fired, first.decided, first.contacts) == (8, 8, 2)
    assert (again.fired, again.decided, again.duplicates, again.contacts) == (8, 0, 8, 0)
    assert len(_events(lifecycle_store)) == 8
    assert len(_contacts(lifecycle_store)) == 2


@pytest.mark.parametrize(
    ("day", "born"),
    [
        # 2026 has no 29 February: those born on it have their birthday on the 28th.
        (date(2026, 2, 27), []),
        (date(2026, 2, 28), ["c09", "c10"]),
        (date(2026, 3, 1), ["c11"]),
        (date(2024, 2, 28), ["c10"]),
        (date(2024, 2, 29), ["c09"]),
        (date(2024, 3, 1), ["c11"]),
    ],
)
def test_the_store_finds_the_birthdays_the_rule_says_29_february_included(
    lifecycle_store: Store, day: date, born: list[str]
) -> None:
    spec = LifecycleSpec(LifecycleKind.BIRTHDAY, "birth_date")
    expected = sorted(c for c, v in DATES.items() if spec.fires(v.get("birth_date"), day))

    result = lifecycle.generate(lifecycle_store, day, now=NOW)

    assert expected == born
    got = sorted(v[0] for k, v in _events(lifecycle_store).items() if ":birthday:" in k)
    assert got == born
    assert _by_type(result)["birthday"][0] == len(born)


def test_a_big_day_is_taken_in_batches_of_a_thousand(
    lifecycle_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with lifecycle_store.session() as s:
        table = customer_table(load_schema(s))
        s.execute(
            sa.insert(table),
            [{"id": f"n{i:04d}", "contract_end": date(2026, 12, 24)} for i in range(2345)],
        )
        s.commit()
    sizes: list[int] = []
    take = events.take_events

    def counting(store: Store, raw: Any, **kw: Any) -> events.EventsTaken:
        sizes.append(len(raw))
        return take(store, raw, **kw)

    monkeypatch.setattr(lifecycle, "take_events", counting)

    result = lifecycle.generate(lifecycle_store, DAY, now=NOW)

    assert _by_type(result)["contract_ending"] == (2346, 2346, 0, 0)
    assert sorted(sizes, reverse=True)[:3] == [1000, 1000, 346]


def test_a_tick_generates_the_day_once_and_marks_it(lifecycle_store: Store) -> None:
    first = scheduler.tick(lifecycle_store, now=NOW)
    later = scheduler.tick(lifecycle_store, now=NOW + timedelta(minutes=1))

    assert first.errors == []
    assert first.lifecycle is not None and first.lifecycle.day == DAY
    assert (first.lifecycle.fired, first.lifecycle.contacts) == (8, 2)
    assert later.lifecycle is None
    assert len(_events(lifecycle_store)) == 8
    with lifecycle_store.session() as s:
        assert s.get(ChangeStamp, "lifecycle:2026-11-24") is not None
    tomorrow = scheduler.tick(lifecycle_store, now=NOW + timedelta(days=1))
    assert tomorrow.lifecycle is not None and tomorrow.lifecycle.day == DAY + timedelta(days=1)


def test_a_day_that_failed_half_way_is_not_marked_and_the_next_tick_finishes_it(
    lifecycle_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    take = events.take_events
    calls: list[str] = []

    def failing_second(store: Store, raw: Any, **kw: Any) -> events.EventsTaken:
        calls.append(raw[0]["type"])
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        return take(store, raw, **kw)

    monkeypatch.setattr(lifecycle, "take_events", failing_second)
    broken = scheduler.tick(lifecycle_store, now=NOW)
    monkeypatch.setattr(lifecycle, "take_events", take)
    retried = scheduler.tick(lifecycle_store, now=NOW + timedelta(minutes=1))

    assert broken.lifecycle is None
    assert broken.errors == ["lifecycle events: RuntimeError: connection lost"]
    assert retried.errors == [] and retried.lifecycle is not None
    assert retried.lifecycle.fired == 8
    assert 0 < retried.lifecycle.duplicates < 8  # the first type was taken by the broken tick
    assert retried.lifecycle.decided + retried.lifecycle.duplicates == 8
    assert lifecycle.is_done(lifecycle_store, DAY)


def test_old_day_marks_are_forgotten(lifecycle_store: Store) -> None:
    for back in (40, 31, 30, 1):
        lifecycle.mark_done(lifecycle_store, DAY - timedelta(days=back))
    lifecycle.mark_done(lifecycle_store, DAY)
    lifecycle.mark_done(lifecycle_store, DAY)  # a second scheduler's mark

    with lifecycle_store.session() as s:
        names = sorted(s.scalars(sa.select(ChangeStamp.name)))
    assert names == [
        "catalog",
        "lifecycle:2026-10-24",
        "lifecycle:2026-10-25",
        "lifecycle:2026-11-23",
        "lifecycle:2026-11-24",
    ]


def test_a_day_to_come_is_refused(lifecycle_store: Store) -> None:
    with pytest.raises(InvalidInput, match=r"date: 2026-11-25 is after today \(2026-11-24, UTC\)"):
        lifecycle.generate(lifecycle_store, DAY + timedelta(days=1), now=NOW)


def test_a_type_whose_field_went_away_says_so_and_the_others_go_on(
    lifecycle_store: Store,
) -> None:
    with lifecycle_store.session() as s:
        drop_field(s, "contract_end")
        s.commit()

    result = lifecycle.generate(lifecycle_store, DAY, now=NOW)

    assert result.problems == [
        "contract_ending: lifecycle.field: no customer field 'contract_end'; "
        "the customer fields of type date are: birth_date, joined_on"
    ]
    assert _by_type(result)["contract_ending"] == (0, 0, 0, 0)
    assert _by_type(result)["birthday"] == (4, 4, 0, 2)


def test_a_customer_id_too_long_for_the_event_id_is_replaced_by_its_digest(
    lifecycle_store: Store, apply_docs: Callable[[str], None]
) -> None:
    long_type, long_id = "a" * 60, "x" * 128
    apply_docs(
        f"kind: EventType\nname: {long_type}\nfields: {{years: int}}\n"
        "lifecycle: {kind: anniversary, field: joined_on}\n---\n" + PROGRAM
    )
    with lifecycle_store.session() as s:
        table = customer_table(load_schema(s))
        s.execute(sa.insert(table).values(id=long_id, joined_on=date(2025, 11, 24)))
        s.commit()

    result = lifecycle.generate(lifecycle_store, DAY, now=NOW)

    assert _by_type(result)[long_type] == (2, 2, 0, 0)
    made = {v[0]: k for k, v in _events(lifecycle_store).items() if f":{long_type}:" in k}
    assert made["c08"] == f"lifecycle:{long_type}:c08:2026-11-24"
    eid = made[long_id]
    assert eid.startswith(f"lifecycle:{long_type}:#") and eid.endswith(":2026-11-24")
    assert len(eid) <= 200
    assert eid == lifecycle.event_id(long_type, long_id, DAY)


def test_lifecycle_blocks_are_exported_and_read_back_unchanged(lifecycle_store: Store) -> None:
    with lifecycle_store.session() as s:
        text = as_code.export_documents(s)
        docs = [d for d in yaml.safe_load_all(text) if d["kind"] == "EventType"]
        again = as_code.apply_documents(s, docs, source="export", actor="t")

    by_name = {d["name"]: d for d in docs}
    assert by_name["inactive_30d"]["lifecycle"] == {
        "kind": "inactivity",
        "field": "last_activity",
        "days": 30,
    }
    assert by_name["birthday"]["lifecycle"] == {"kind": "birthday", "field": "birth_date"}
    assert "lifecycle" not in by_name["top_up"]
    assert {a.result for a in again} == {"unchanged"}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            "name: b\nfields: {age: int}\nlifecycle: {kind: birthday, field: birthday_date}",
            "lifecycle.field: no customer field 'birthday_date'; the customer fields of "
            "type date are: birth_date, contract_end, joined_on",
        ),
        (
            "name: b\nfields: {age: int}\nlifecycle: {kind: birthday, field: tenure_months}",
            "lifecycle.field: customer field 'tenure_months' is int; birthday reads a date",
        ),
        (
            "name: b\nfields: {age: int}\nlifecycle: {kind: birthday, field: last_activity}",
            "lifecycle.field: customer field 'last_activity' is timestamp; birthday reads a date",
        ),
        (
            "name: q\nfields: {days: int}\nlifecycle: {kind: inactivity, field: last_activity}",
            "lifecycle.days: is required for inactivity (from 1 to 3650)",
        ),
        (
            "name: q\nfields: {days: int}\n"
            "lifecycle: {kind: inactivity, field: last_activity, days: 4000}",
            "lifecycle.days: must be from 1 to 3650, got 4000",
        ),
        (
            "name: e\nfields: {days: int}\n"
            "lifecycle: {kind: contract_end, field: contract_end, days: 30}",
            "fields.days_left: the contract_end lifecycle fills in 'days_left'; "
            "declare it as an int",
        ),
        (
            "name: b\nfields: {age: float}\nlifecycle: {kind: birthday, field: birth_date}",
            "fields.age: the birthday lifecycle fills in 'age' as an int, not float",
        ),
        (
            "name: b\nfields: {age: int}\nlifecycle: {kind: wedding, field: birth_date}",
            "lifecycle.kind: unknown kind 'wedding'; kinds are: birthday, anniversary, "
            "inactivity, contract_end",
        ),
    ],
)
def test_a_bad_declaration_names_the_document_and_the_key(
    lifecycle_store: Store, doc: str, expected: str
) -> None:
    raw = {"kind": "EventType", **yaml.safe_load(doc)}
    with lifecycle_store.session() as s, pytest.raises(InvalidInput) as e:
        as_code.apply_documents(s, [raw], source="types.yaml", actor="t")

    assert e.value.detail.startswith("types.yaml, document 1 (EventType): event type ")
    assert expected in e.value.detail


def _cells(out: str, row: str) -> list[str]:
    (line,) = [x for x in out.splitlines() if x.replace("│", " ").split()[:1] == [row]]
    return line.replace("│", " ").split()


def test_the_command_generates_a_day_and_prints_what_each_type_did(tactica: Tactica) -> None:
    store = Store.from_settings(get_settings())
    try:
        with store.session() as s:
            add_fields(s, [FieldDef("birth_date", FieldType.DATE)])
            table = customer_table(load_schema(s))
            s.execute(
                sa.insert(table),
                [
                    {"id": "a", "birth_date": date(2000, 3, 1)},
                    {"id": "b", "birth_date": date(2001, 3, 2)},
                ],
            )
            docs = list(yaml.safe_load_all(TYPES.split("---")[0]))
            as_code.apply_documents(s, docs, source="t", actor="t")
            s.commit()
    finally:
        store.dispose()

    first = tactica("events", "lifecycle", "--date", "2025-03-01")
    again = tactica("events", "lifecycle", "--date", "2025-03-01")
    bad = tactica("events", "lifecycle", "--date", "1 March")
    future = tactica("events", "lifecycle", "--date", "9999-12-31")

    assert first.code == 0, first.err
    assert "lifecycle events of 2025-03-01 (UTC)" in first.out
    assert _cells(first.out, "birthday") == ["birthday", "birthday", "1", "1", "0", "0"]
    assert _cells(again.out, "birthday") == ["birthday", "birthday", "1", "0", "1", "0"]
    assert bad.code == 2 and "--date: a day such as 2026-11-24, got '1 March'" in bad.err
    assert future.code == 2 and "date: 9999-12-31 is after today" in future.err


def test_the_scheduler_says_what_the_day_s_lifecycle_events_did(tactica: Tactica) -> None:
    today = datetime.now(UTC).date()
    born = today.replace(
        year=today.year - 30, day=28 if (today.month, today.day) == (2, 29) else today.day
    )
    store = Store.from_settings(get_settings())
    try:
        with store.session() as s:
            add_fields(s, [FieldDef("birth_date", FieldType.DATE)])
            s.execute(sa.insert(customer_table(load_schema(s))), [{"id": "a", "birth_date": born}])
            docs = list(yaml.safe_load_all(TYPES.split("---")[0]))
            as_code.apply_documents(s, docs, source="t", actor="t")
            s.commit()
    finally:
        store.dispose()

    ticked = tactica("scheduler", "--once")

    assert ticked.code == 0, ticked.err
    assert (
        f"lifecycle events of {today.isoformat()}: 1 fired, 1 decided, 0 contact(s)" in ticked.out
    )
