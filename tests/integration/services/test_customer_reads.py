"""The customer reads behind the customer page: search, segments evaluated for one
customer, the decision history, and compiling many rules at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import yaml

from tactica.services import as_code, customers, lists, runs, segments
from tactica.services.responses import Inbound, take_responses
from tactica.services.rules import condition_compiler, condition_sql
from tactica.store.customer_table import drop_field
from tactica.store.db import Store
from tactica.store.models import HeldOut
from tests.integration.responses.conftest import NOW, ran_store

#: A second program whose campaign holds half its customers out in a control group.
WINTER = """\
kind: Program
name: winter
owner: ana
policy: one-a-run
campaigns:
  - name: winter-email
    offers: [GOLD]
    channels: [email]
    control_share: 0.5
"""


@pytest.fixture
def history(store: Store) -> Store:
    """The store of :func:`make_history`."""
    return make_history(store)


def make_history(store: Store) -> Store:
    """20 customers contacted by 'autumn' (sent), 'winter' run with a control group, two
    segments, a VIP with an expiry, an order from c01's "yes", a lead from c03's question."""
    ran_store(store)
    with store.session() as s:
        as_code.apply_documents(s, list(yaml.safe_load_all(WINTER)), source="t", actor="t")
        segments.create_segment(s, "young", rule="age < 30", actor="t")  # c00..c04
        segments.create_segment(s, "picked", ids=["c01", "c07"], actor="t")
        segments.create_segment(s, "vips", rule="on_list('vip')", actor="t")
        until = datetime.now(UTC) + timedelta(days=30)
        lists.add_entry(
            s, "vip", lists.EntryInput("c01", reason="big spender", expires_at=until), actor="t"
        )
        lists.add_entry(s, "dnd", lists.EntryInput("c02", channel="sms"), actor="t")
        s.commit()
    done = runs.run_program(store, "winter", actor="ana", now=NOW + timedelta(hours=1))
    assert done is not None and done.status == "completed" and done.held_out > 0
    replies = [
        Inbound("m1", "sms", "Yes please!", sender="35191" + f"{1:07d}", received_at=NOW),
        Inbound("m2", "sms", "tell me more", sender="35191" + f"{3:07d}", received_at=NOW),
    ]
    taken = take_responses(store, "gw", replies, now=NOW)
    assert (taken.orders, taken.leads) == (1, 1)
    return store


def held_out_customer(store: Store) -> str:
    """A customer the 'winter' run held out who had a contact from 'autumn' before."""
    with store.session() as s:
        return str(s.scalar(sa.select(HeldOut.customer_id).order_by(HeldOut.customer_id)))


def test_segments_of_evaluates_each_rule_for_the_one_customer(history: Store) -> None:
    with history.session() as s:
        assert [x["name"] for x in customers.segments_of(s, "c01")] == ["picked", "vips", "young"]
        assert [x["name"] for x in customers.segments_of(s, "c07")] == ["picked"]
        assert customers.segments_of(s, "nobody") == []


def test_a_rule_that_no_longer_compiles_is_named_with_its_problem(history: Store) -> None:
    with history.session() as s:
        drop_field(s, "age")  # 'young' is "age < 30"
        s.commit()
        got = {x["name"]: x["error"] for x in customers.segments_of(s, "c01")}
    assert set(got) == {"picked", "vips", "young"}
    assert got["picked"] is None and got["vips"] is None
    assert "age" in str(got["young"])


def test_decisions_of_merges_contacts_and_held_out_rows_newest_first(history: Store) -> None:
    held = held_out_customer(history)
    with history.session() as s:
        rows, more = customers.decisions_of(s, held, limit=10)
        assert not more
        # Held out by 'winter' (the newer run), texted or e-mailed by 'autumn' before.
        assert [(r["campaign"][:5], r["held_out"]) for r in rows] == [
            ("winte", True),
            ("gold-", False),
        ]
        assert rows[0]["decided_at"] > rows[1]["decided_at"]
        one, more = customers.decisions_of(s, held, limit=1)
        assert len(one) == 1 and more


def test_find_customers_matches_only_exact_ids_and_addresses(history: Store) -> None:
    with history.session() as s:
        assert [c["id"] for c in customers.find_customers(s, "c05@example.com")] == ["c05"]
        assert [c["id"] for c in customers.find_customers(s, "351910000005")] == ["c05"]
        assert customers.find_customers(s, "example.com") == []
        assert customers.find_customers(s, "  ") == []
        page = customers.customers_after(s, "c17", limit=5)
        assert [c["id"] for c in page] == ["c18", "c19"]


def test_one_compiler_compiles_many_rules_as_condition_sql_does(history: Store) -> None:
    with history.session() as s:
        dialect = history.dialect
        compile_ = condition_compiler(s, dialect)
        for rule in ("age < 30", "in_segment('picked') and age > 20", "on_list('vip')"):
            one = condition_sql(s, rule, dialect)
            # The same SQL but for the time on_list compares expiries with.
            assert compile_(rule).split("expires_at >")[0] == one.split("expires_at >")[0]


@pytest.mark.parametrize(
    "rule",
    [
        "in_segment('picked')",
        "not in_segment('picked') and age < 40",
        "on_list('vip') or in_segment('young')",
        "not on_list('dnd')",
    ],
)
def test_correlated_lookups_select_the_same_customers(history: Store, rule: str) -> None:
    """Membership as a lookup per customer selects exactly what the plain form does."""
    with history.session() as s:
        plain = condition_compiler(s, history.dialect)(rule)
        lookup = condition_compiler(s, history.dialect, correlated=True)(rule)
        assert " IN (SELECT" in plain and " IN (SELECT" not in lookup and "EXISTS" in lookup

        def ids(condition: str) -> list[str]:
            q = f"SELECT id FROM customers WHERE {condition} ORDER BY id"
            return list(s.scalars(sa.text(q)))

        assert ids(lookup) == ids(plain) and ids(plain)
