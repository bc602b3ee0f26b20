"""Call-centre outcomes: the centre fills its outcomes into the list it got, and they land."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tactica.config import get_settings
from tactica.errors import ImportRejected, NotFound
from tactica.services.call_outcomes import import_calls
from tactica.store.db import Store
from tactica.store.models import Lead, Order, Response, SpecialListEntry
from tests.conftest import Tactica
from tests.integration.intake.conftest import called_store
from tests.integration.responses.conftest import NOW

OUTCOMES = [
    # outcome, called_at (the centre's local time), discount, notes
    ("order", "2026-11-24 11:20", "5", "Takes the Gold card"),
    ("interest", "2026-11-24 11:25", "", "Wants the fees by e-mail"),
    ("callback", "2026-11-24 11:30", "", "Call back after 6 pm"),
    ("opt_out", "2026-11-24 11:35", "", "Never call me again"),
    ("not_interested", "2026-11-24 11:40", "", ""),
    ("no_answer", "2026-11-24 11:45", "", ""),
]


def write_csv(
    path: Path, rows: list[dict[str, str]], sep: str = ",", encoding: str = "utf-8"
) -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=sep)
        w.writeheader()
        w.writerows(rows)
    return path


def filled_in(call_list: list[dict[str, str]]) -> list[dict[str, str]]:
    """The first six rows of the call list, with the centre's outcome columns filled in."""
    return [
        {
            **row,
            "outcome": outcome,
            "called_at": at,
            "discount": discount,
            "notes": notes,
            "agent": "marta",
        }
        for row, (outcome, at, discount, notes) in zip(call_list, OUTCOMES, strict=False)
    ]


def counts(store: Store) -> tuple[int, int, int, int]:
    """Responses, orders, leads and opt-out entries stored."""
    with store.session() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(sa.select(sa.func.count()).select_from(t)) or 0)
            for t in (Response, Order, Lead, SpecialListEntry)
        )


def test_outcomes_filled_into_the_call_list_become_orders_leads_and_opt_outs(
    store: Store, tmp_path: Path
) -> None:
    rows = filled_in(called_store(store, tmp_path / "calls"))
    path = write_csv(tmp_path / "lisbon-outcomes.csv", rows)
    got = import_calls(store, path, centre="lisbon", actor="cli:ana", now=NOW)
    assert got.rows == 6
    t = got.taken
    assert (t.accepted, t.orders, t.leads, t.opt_outs, got.recorded) == (6, 1, 2, 1, 2)
    with store.session() as s:
        by_outcome = {
            r.data["call_outcome"]: r for r in s.scalars(sa.select(Response).order_by(Response.id))
        }
        order = s.scalar(sa.select(Order))
        opt_out = s.scalar(sa.select(SpecialListEntry))
        leads = list(s.scalars(sa.select(Lead)))
    taken = by_outcome["order"]
    assert (taken.kind, taken.channel, taken.customer_id) == (
        "call",
        "phone",
        rows[0]["customer_id"],
    )
    assert taken.contact_id == int(rows[0]["contact_id"])
    assert (taken.campaign, taken.offer, taken.result) == ("gold-call", "GOLD", "order")
    assert taken.text == "Takes the Gold card" and taken.data["agent"] == "marta"
    # Lisbon is on UTC in November: the time is as written.
    assert taken.received_at == datetime(2026, 11, 24, 11, 20, tzinfo=UTC)
    assert order is not None and (order.discount, order.amount) == (Decimal(5), Decimal("114.00"))
    assert {lead.customer_id for lead in leads} == {rows[1]["customer_id"], rows[2]["customer_id"]}
    assert opt_out is not None
    assert (opt_out.customer_id, opt_out.channel) == (rows[3]["customer_id"], "phone")
    for quiet in ("not_interested", "no_answer"):
        assert (by_outcome[quiet].result, by_outcome[quiet].review) == ("recorded", None)


def test_importing_the_same_file_again_takes_nothing_twice(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "out.csv", filled_in(called_store(store, tmp_path / "calls")))
    import_calls(store, path, now=NOW)
    before = counts(store)
    again = import_calls(store, path, now=NOW)
    assert (again.taken.accepted, again.taken.duplicates) == (0, 6)
    assert counts(store) == before == (6, 1, 2, 1)


def test_a_file_with_a_bad_row_is_refused_whole_and_nothing_is_stored(
    store: Store, tmp_path: Path
) -> None:
    rows = filled_in(called_store(store, tmp_path / "calls"))
    rows[2]["outcome"] = "maybe later"
    rows[4]["contact_id"] = "999999"
    rows[5]["called_at"] = "24/11/2026"
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(ImportRejected) as e:
        import_calls(store, path, centre="lisbon", now=NOW)
    assert e.value.total_bad_rows == 3
    detail = e.value.detail
    assert "3 row(s) cannot be imported; nothing was written" in detail
    assert "bad.csv, row 4, column 'outcome': value 'maybe later' is not one of order," in detail
    assert "bad.csv, row 6, column 'contact_id': value '999999' is not a contact Tactica made" in (
        detail
    )
    assert "bad.csv, row 7, column 'called_at': value '24/11/2026' is not a time such as" in detail
    assert "--rejects" not in detail
    assert counts(store) == (0, 0, 0, 0)


def test_customer_and_campaign_in_a_semicolon_file_with_the_centres_local_times(
    store: Store, tmp_path: Path
) -> None:
    called_store(store, tmp_path / "calls", timezone="Asia/Shanghai")
    path = write_csv(
        tmp_path / "shanghai.csv",
        [
            # 19:30 in Shanghai is 11:30 UTC, after the call list was made (11:00).
            {
                "customer_id": "c03",
                "campaign": "gold-call",
                "outcome": "Callback",
                "called_at": "2026-11-24 19:30",
                "notes": "Rappeler après 18 h",
            },
            {
                "customer_id": "c04",
                "campaign": "gold-call",
                "outcome": "no answer",
                "called_at": "2026-11-24T11:40:00Z",
                "notes": "",
            },
        ],
        sep=";",
        encoding="cp1252",
    )
    got = import_calls(store, path, centre="lisbon", now=NOW)
    assert (got.taken.accepted, got.taken.leads, got.recorded) == (2, 1, 1)
    with store.session() as s:
        first = s.scalar(sa.select(Response).where(Response.customer_id == "c03"))
    assert first is not None and first.campaign == "gold-call"
    assert first.received_at == datetime(2026, 11, 24, 11, 30, tzinfo=UTC)
    assert first.text == "Rappeler après 18 h"


def test_a_campaign_the_customer_was_not_called_in_and_an_unknown_centre(
    store: Store, tmp_path: Path
) -> None:
    called_store(store, tmp_path / "calls")
    row = {
        "customer_id": "c03",
        "campaign": "gold-vip",
        "outcome": "order",
        "called_at": "2026-11-24 11:30",
    }
    path = write_csv(tmp_path / "x.csv", [row])
    with pytest.raises(
        ImportRejected, match="column 'campaign': value 'gold-vip' is not a campaign"
    ):
        import_calls(store, path, now=NOW)
    with pytest.raises(NotFound, match="no call centre 'paris'; call centres: lisbon"):
        import_calls(store, path, centre="paris", now=NOW)


def test_the_cli_imports_and_names_bad_rows(tactica: Tactica, tmp_path: Path) -> None:
    store = Store.from_settings(get_settings())  # the workspace the command works in
    try:
        rows = filled_in(called_store(store, tmp_path / "calls"))
    finally:
        store.dispose()
    # The command reads the real clock: calls made in the last hour, with their offset.
    for i, row in enumerate(rows):
        row["called_at"] = (datetime.now(UTC) - timedelta(minutes=60 - i)).isoformat()
    good = write_csv(tmp_path / "good.csv", rows)
    done = tactica("responses", "import-calls", str(good), "--centre", "lisbon")
    assert done.code == 0, done.err
    assert "good.csv: 6 calls taken — 1 order, 2 leads, 1 opt-out, 2 recorded" in done.out
    again = tactica("responses", "import-calls", str(good))
    assert again.code == 0 and "0 calls taken" in again.out and "6 taken before" in again.out
    rows[0]["outcome"] = "sold"
    bad = write_csv(tmp_path / "bad.csv", rows)
    refused = tactica("responses", "import-calls", str(bad))
    assert refused.code == 2
    assert "bad.csv, row 2, column 'outcome': value 'sold'" in refused.err
