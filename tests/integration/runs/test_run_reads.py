"""What a run reads: the same in child processes as in this one; only contacts that count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tactica.services import lists, run_inputs, segments
from tactica.services.programs import get_program
from tactica.services.run_inputs import read_inputs, read_ledger, take_snapshot
from tactica.store.db import Store
from tactica.store.run_writes import insert_contacts

from .conftest import NOW

STATUSES = ["sent", "queued", "failed", "scheduled", "delivered"]


def _history(store: Store, n: int = 1_500) -> None:
    """``n`` past contacts over 40 days, every status, for the 40 customers."""
    minutes = [(i * 7919) % (40 * 24 * 60) for i in range(n)]
    rows = pa.table(
        {
            "run_id": pa.nulls(n, pa.int64()),
            "program": ["history"] * n,
            "campaign": [f"k{i % 3}" for i in range(n)],
            "campaign_kind": ["outbound"] * n,
            "customer_id": [f"c{i % 40:02d}" for i in range(n)],
            "offer": ["GOLD" if i % 2 else "SAVER" for i in range(n)],
            "channel": ["sms" if i % 3 else "email" for i in range(n)],
            "score": [0.0] * n,
            "cost": ["0.05"] * n,
            "rank": [1] * n,
            "status": [STATUSES[(i // 7) % len(STATUSES)] for i in range(n)],
            "decided_at": pa.array(
                [NOW - timedelta(minutes=m + 1) for m in minutes], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    with store.session() as s:
        insert_contacts(s, rows, None)
        lists.add_entry(s, "vip", lists.EntryInput("c07"), actor="t")
        segments.create_segment(s, "chosen", ids=["c01", "c02"], actor="t")
        s.commit()


def _sorted(t: pa.Table) -> list[dict[str, Any]]:
    return sorted(t.to_pylist(), key=repr)


def test_a_whole_run_reads_the_same_in_children(
    program_store: Store, apply_yaml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _history(program_store)
    apply_yaml(
        "kind: Program\nname: spring\nowner: ana\npolicy: default\ncampaigns:\n"
        "  - name: chosen-sms\n    offers: [GOLD]\n    channels: [sms]\n"
        "    eligibility: \"in_segment('chosen') or not on_list('opt_out')\"\n"
    )
    with program_store.session() as s:
        snapshot = take_snapshot(s, get_program(s, "spring"))
        here = read_inputs(program_store, s, snapshot, NOW)
        monkeypatch.setattr(run_inputs, "LARGE_READ_ROWS", 0)
        there = read_inputs(program_store, s, snapshot, NOW)
    assert here.customers.num_rows == 40
    assert here.customers.equals(there.customers)
    for name in ("ledger", "exclusions", "vip", "members"):
        a, b = getattr(here, name), getattr(there, name)
        assert a.schema == b.schema, name
        assert _sorted(a) == _sorted(b), name
    assert {r["customer_id"] for r in here.members.to_pylist()} >= {"c01", "c02"}
    assert here.vip.column("customer_id").to_pylist() == ["c07"]


def test_the_ledger_holds_only_contacts_that_count(
    program_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _history(program_store)
    sqls: list[str] = []
    fetch = run_inputs.fetch_arrow_many

    def spy(store: Store, queries: Any, **kw: Any) -> Any:
        sqls.extend(sql for sql, _ in queries)
        return fetch(store, queries, **kw)

    monkeypatch.setattr(run_inputs, "fetch_arrow_many", spy)
    since = NOW - timedelta(days=31)
    with program_store.engine.connect() as c:
        expected = c.execute(
            sa.text(
                "SELECT status, count(*) FROM contacts WHERE decided_at > :since GROUP BY status"
            ),
            {"since": since},
        ).all()
    wide = read_ledger(program_store, since)
    got = wide.group_by("status").aggregate([("status", "count")]).to_pylist()
    assert {r["status"]: r["status_count"] for r in got} == {
        s: n for s, n in expected if s != "failed"
    }
    narrow = read_ledger(program_store, NOW - timedelta(hours=12))
    assert 0 < narrow.num_rows < wide.num_rows
    assert min(narrow.column("at").to_pylist()) > NOW - timedelta(hours=12)
    if program_store.dialect == "sqlite":
        # Most of the history in the window: read the table, not the index.
        assert "NOT INDEXED" in sqls[0] and "NOT INDEXED" not in sqls[1]
    one = read_ledger(program_store, since, ["c03"])
    assert set(one.column("customer_id").to_pylist()) == {"c03"}
    assert _sorted(one) == _sorted(wide.filter(pa.compute.equal(wide["customer_id"], "c03")))
