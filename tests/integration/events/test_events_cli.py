"""`tactica events ...` and `tactica explain --event`, as a marketer types them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tactica.store.db import Store
from tests.conftest import Tactica
from tests.integration.events.conftest import NOW


@pytest.fixture(autouse=True)
def _same_store(events_store: Store, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI works on the store the fixture filled (on SQLite too)."""
    monkeypatch.setenv(
        "TACTICA_DATABASE_URL", events_store.engine.url.render_as_string(hide_password=False)
    )


def _line(eid: str, customer: str, amount: object = 70) -> str:
    return json.dumps(
        {
            "id": eid,
            "type": "top_up",
            "customer_id": customer,
            "time": (NOW - timedelta(minutes=1)).isoformat(),
            "payload": {"amount": amount},
        }
    )


def test_send_list_show_explain_and_figures(
    events_store: Store, tactica: Tactica, tmp_path: Path
) -> None:
    f = tmp_path / "events.jsonl"
    f.write_text("\n".join([_line("e1", "c05"), _line("e2", "c05"), _line("e3", "c02")]) + "\n")

    sent = tactica("events", "send", str(f))
    assert sent.code == 0, sent.err
    assert "e1 (c05): moments/top-up-bonus: contacted with DATA-5GB on sms" in sent.out
    assert (
        "e2 (c05): moments/top-up-bonus: policy: contacted 1 time in the last 30 days" in sent.out
    )
    assert "e3 (c02): moments/top-up-bonus: not eligible" in sent.out
    assert "3 taken, 1 contact(s), 0 duplicate(s), 0 refused, 0 unattributed" in sent.out

    again = tactica("events", "send", str(f))
    assert "0 taken, 0 contact(s), 3 duplicate(s)" in again.out

    listed = tactica("events", "list", "--customer", "c05")
    assert "e1" in listed.out and "e2" in listed.out and "e3" not in listed.out

    shown = tactica("events", "show", "e1")
    assert shown.code == 0
    assert "top_up for c05" in shown.out and "on sms, queued" in shown.out

    why = tactica("explain", "--customer", "c05", "--event", "e2")
    assert why.code == 0
    assert "(policy 'one-a-month')" in why.out
    wrong = tactica("explain", "--customer", "c02", "--event", "e2")
    assert wrong.code == 2 and "event e2 is for customer c05, not c02" in wrong.err

    figures = tactica("events", "figures")
    assert "top-up-bonus" in figures.out
    row = next(line for line in figures.out.splitlines() if "top-up-bonus" in line)
    assert [cell.strip() for cell in row.split("│")[3:6]] == ["3", "1", "2"]

    shown_program = tactica("programs", "show", "moments")
    assert "# events for top-up-bonus: 3 matched, 1 contacted, 2 suppressed" in shown_program.out

    types = tactica("events", "types")
    assert "top_up" in types.out and "moments/top-up-bonus" in types.out


def test_bad_input_is_named(events_store: Store, tactica: Tactica, tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(_line("ok", "c05") + "\n{not json\n")
    r = tactica("events", "send", str(f))
    assert r.code == 2 and "bad.jsonl: line 2: not JSON" in r.err

    f.write_text(_line("x", "c05", amount="lots") + "\n")
    refused = tactica("events", "send", str(f))
    assert refused.code == 2
    assert "event 1 (x): payload.amount: must be a number, got 'lots'" in refused.out

    missing = tactica("events", "send", str(tmp_path / "nope.jsonl"))
    assert missing.code != 0 and "no file" in missing.err
    assert tactica("events", "show", "nope").code != 0
    assert "a day such as" in tactica("events", "figures", "--since", "yesterday").err
