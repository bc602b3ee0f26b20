"""`tactica responses list|show|correct|rules`: the review queue and the rules, from a terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tactica.config import get_settings
from tactica.services.responses import Inbound, take_responses
from tactica.store.db import Store
from tests.conftest import Tactica


def _take(*items: Inbound) -> None:
    store = Store.from_settings(get_settings())
    try:
        take_responses(store, "gw", list(items), now=datetime.now(UTC))
    finally:
        store.dispose()


def test_the_review_queue_and_a_correction_remembered_as_a_rule(
    tactica: Tactica, tmp_path: Path
) -> None:
    (tmp_path / "c.csv").write_text("id,msisdn\nc1,+351910000001\n")
    loaded = tactica("customers", "import", str(tmp_path / "c.csv"))
    assert loaded.code == 0, loaded.err
    _take(Inbound("m1", "sms", "hmm, next month", sender="+351910000001"))
    queue = tactica("responses", "list", "--review")
    assert queue.code == 0 and "hmm, next month" in queue.out and "to review" in queue.out
    rid = queue.out.split("│")[1].strip() if "│" in queue.out else "1"
    fixed = tactica("responses", "correct", rid, "interest", "--remember", "next month")
    assert fixed.code == 0, fixed.err
    # No contact to answer: kept, listed as unattributed, and the rule is remembered.
    assert "interest → unattributed" in fixed.out
    assert "Rule added: 'next month' means interest (en)" in fixed.out
    assert "The review queue is empty." in tactica("responses", "list", "--review").out
    assert "en-interest-next-month" in tactica("responses", "rules", "list", "--lang", "en").out
    shown = tactica("responses", "show", rid)
    assert "outcome: interest" in shown.out and "reviewed_by: cli:" in shown.out


def test_rules_are_added_switched_and_removed_with_clear_errors(tactica: Tactica) -> None:
    added = tactica("responses", "rules", "add", "opt_out", "leave me be", "--lang", "en")
    assert added.code == 0 and "en-opt_out-leave-me-be" in added.out
    tried = tactica("responses", "classify", "Leave me be!")
    assert "outcome: opt_out" in tried.out and "rule: en-opt_out-leave-me-be" in tried.out
    assert tactica("responses", "rules", "disable", "en-opt_out-leave-me-be").code == 0
    assert "outcome: other" in tactica("responses", "classify", "Leave me be!").out
    listed = tactica("responses", "rules", "list", "--active")
    assert "en-opt_out-leave-me-be" not in listed.out and "any-stop" in listed.out
    bad = tactica("responses", "rules", "add", "order", "(", "--pattern", "--name", "p1")
    assert bad.code == 2 and "pattern does not compile at 0" in bad.err
    bad = tactica("responses", "rules", "add", "maybe", "x")
    assert bad.code == 2 and "outcome: one of order, interest, opt_out" in bad.err
    kept = tactica("responses", "rules", "remove", "any-stop")
    assert kept.code != 0 and "built-in rule" in kept.err
    assert tactica("responses", "rules", "remove", "en-opt_out-leave-me-be").code == 0
    assert tactica("responses", "correct", "999", "order").code == 4
