"""Explain: each step with its rule and numbers, for a run and for a program not yet run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tactica.errors import NotFound
from tactica.services import runs
from tactica.services.explain import Explanation, explain_customer
from tactica.store.db import Store
from tests.integration.runs.conftest import NOW


def _campaign(e: Explanation, name: str) -> tuple[str, dict[str, tuple[bool | None, str]]]:
    c = next(c for c in e.campaigns if c.campaign == name)
    return c.outcome, {s.name: (s.passed, s.detail) for s in c.steps}


def test_a_contacted_customer_and_why_the_next_run_leaves_them_out(program_store: Store) -> None:
    first = runs.run_program(program_store, "spring", actor="ana", now=NOW)
    assert first is not None and first.run_id is not None
    # c16: 36 years old, balance 3200, SMS and e-mail: young-sms with the best offer.
    e = explain_customer(program_store, "c16", run_id=first.run_id)
    outcome, steps = _campaign(e, "young-sms")
    assert steps["segment 'young'"] == (True, "rule: age < 40")
    assert steps["offer SAVER"] == (True, "eligibility: balance > 1000")
    assert steps["sms: msisdn"][0] and steps["sms: consent_sms"][0]
    assert steps["policy 'global-30d'"] == (True, "contacted 0 times in the last 30 days, limit 3")
    held = steps["control group"][0] is False
    if held:
        assert outcome == "held out: in the campaign's control group"
        assert "young-sms: held out (control group)" in " ".join(e.recorded)
    else:
        assert outcome.startswith(("contact: ", "not contacted: capacity 10"))
    assert not e.notes  # the replay agrees with what was recorded

    second = runs.run_program(program_store, "spring", actor="ana", now=NOW + timedelta(hours=5))
    assert second is not None and second.run_id is not None
    contacted = next(
        c
        for c in [f"c{i:02d}" for i in range(40)]
        if any(
            line.endswith("on email") or line.endswith("on sms")
            for line in explain_customer(program_store, c, run_id=first.run_id).recorded
            if "contacted with" in line
        )
    )
    e2 = explain_customer(program_store, contacted, run_id=second.run_id)
    outcomes = [c.outcome for c in e2.campaigns]
    assert any(
        o.startswith("excluded: ") and "minimum gap 48 hours (policy 'gap-48h')" in o
        for o in outcomes
    ), outcomes
    assert any("policy: " in line and "gap-48h" in line for line in e2.recorded)


def test_exclusions_are_named_per_channel(program_store: Store) -> None:
    e = explain_customer(program_store, "c05", program="spring", now=NOW)
    outcome, steps = _campaign(e, "young-sms")
    assert steps["sms: special lists"] == (False, "opted out (list 'opt_out')")
    assert outcome == "excluded: opted out (list 'opt_out')"
    outcome, steps = _campaign(e, "all-email")
    # c05 has no e-mail address (odd ids have none).
    assert steps["email: email"] == (False, "no email")
    e = explain_customer(program_store, "c25", program="spring", now=NOW)
    assert _campaign(e, "young-sms")[0] == "not a candidate: not in the campaign's target"
    assert e.run_id is None and not e.recorded


def test_unknown_customer_or_run(program_store: Store) -> None:
    with pytest.raises(NotFound, match="no customer 'nobody'"):
        explain_customer(program_store, "nobody", program="spring", now=NOW)
    with pytest.raises(NotFound, match="no run 999"):
        explain_customer(program_store, "c01", run_id=999)
