"""Campaign rules that use segments and special lists, inside the engine."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from tactica.engine.decide import decide_batch
from tactica.engine.membership import MEMBERS_SCHEMA
from tactica.engine.plan import BatchDecision
from tactica.errors import InvalidInput
from tests.integration.engine.test_decide import camp, contacts_of, customer, inputs


def _who(decision: BatchDecision) -> set[str]:
    return {c for c, *_ in contacts_of(decision)}


def test_dynamic_static_nested_segments_and_lists() -> None:
    people = [customer(f"c{i}", x=i) for i in range(6)]
    members = pa.Table.from_pylist(
        [
            {"customer_id": "c1", "kind": "segment", "name": "picked"},
            {"customer_id": "c4", "kind": "segment", "name": "picked"},
            {"customer_id": "c5", "kind": "list", "name": "staff"},
            {"customer_id": "c2", "kind": "list", "name": "other"},
        ],
        schema=MEMBERS_SCHEMA,
    )
    campaigns = [
        camp("big", rule="in_segment('big') and not on_list('staff')"),
        camp("picked", rule="in_segment('picked')"),
        camp("nested", rule="in_segment('bigger')"),
    ]
    base = dataclasses.replace(
        inputs(people, campaigns[:1]),
        segment_rules={"big": "x >= 3", "bigger": "in_segment('big') and x >= 4"},
        members=members,
    )
    assert _who(decide_batch(base)) == {"c3", "c4"}
    assert _who(decide_batch(dataclasses.replace(base, campaigns=campaigns[1:2]))) == {"c1", "c4"}
    assert _who(decide_batch(dataclasses.replace(base, campaigns=campaigns[2:]))) == {"c4", "c5"}


def test_a_segment_loop_is_refused() -> None:
    run = dataclasses.replace(
        inputs([customer("c1")], [camp("a", rule="in_segment('s1')")]),
        segment_rules={"s1": "in_segment('s2')", "s2": "in_segment('s1')"},
    )
    with pytest.raises(InvalidInput, match="loop: s1 → s2 → s1"):
        decide_batch(run)
