"""Running a stored program: contacts persisted once, with their funnel, on both stores."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import yaml

from tactica.errors import Conflict, InvalidInput
from tactica.services import lists, programs, runs, segments
from tactica.store.db import Store
from tactica.store.models import Contact, HeldOut, Run
from tests.integration.runs.conftest import NOW, customers


def _contacts(store: Store, status: str | None = None) -> list[tuple[str, str, str, str]]:
    with store.session() as s:
        q = sa.select(Contact.customer_id, Contact.campaign, Contact.offer, Contact.channel)
        if status:
            q = q.where(Contact.status == status)
        return sorted(tuple(r) for r in s.execute(q))  # type: ignore[misc]


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_dry_run_writes_nothing_and_the_run_writes_what_it_previewed(
    program_store: Store,
) -> None:
    preview = runs.preview(program_store, "spring", now=NOW)
    assert _contacts(program_store) == []
    funnel = {f.campaign: f for f in preview.funnel}
    young, email = funnel["young-sms"], funnel["all-email"]
    # 20 customers under 40; 2 without msisdn, 3 without consent, c05 opted out of SMS.
    assert young.candidates == 20
    assert young.excluded == {
        "no msisdn": 2,
        "no consent for sms": 3,
        "opted out (list 'opt_out')": 1,
    }
    # 14 left, a control group of 20 % held out, then a capacity of 10.
    assert 0 < young.held_out < 14
    assert young.after_capacity == min(10, 14 - young.held_out)
    assert young.cost == Decimal("0.05") * young.after_capacity
    assert email.candidates == 40 and email.excluded == {"no email": 20}

    done = runs.run_program(program_store, "spring", actor="ana", now=NOW)
    assert done is not None and done.status == "completed" and done.run_id is not None
    assert [(f.campaign, f.after_capacity) for f in done.funnel] == [
        (f.campaign, f.after_capacity) for f in preview.funnel
    ]
    queued = _contacts(program_store, "queued")
    assert len(queued) == done.contacts == sum(f.after_capacity for f in done.funnel)
    assert len({c for c, *_ in queued}) == len(queued)  # per_run 1: one contact each
    sms = [c for c, camp, _, ch in queued if ch == "sms"]
    assert "c05" not in sms and all(int(c[1:]) < 20 for c in sms)
    with program_store.session() as s:
        held = s.execute(sa.select(HeldOut.customer_id, HeldOut.campaign)).all()
    assert len(held) == done.held_out == young.held_out
    # Held out of a campaign means not contacted by it.
    assert not {(c, camp) for c, camp, *_ in queued} & {(c, camp) for c, camp in held}
    with program_store.session() as s:
        run = runs.get_run(s, done.run_id)
        assert (run.status, run.contacts, run.as_of) == ("completed", done.contacts, NOW)
        view = runs.run_view(s, run)
        assert [c["campaign"] for c in view["campaigns"]] == ["young-sms", "all-email"]
        assert view["campaigns"][0]["excluded"]["no msisdn"] == 2
        assert programs.get_program(s, "spring").status == "running"


def test_a_second_run_the_same_day_respects_the_ledger_and_says_why(
    program_store: Store,
) -> None:
    first = runs.run_program(program_store, "spring", actor="ana", now=NOW)
    assert first is not None and first.contacts > 0
    later = NOW + timedelta(hours=3)
    second = runs.run_program(program_store, "spring", actor="ana", now=later)
    assert second is not None and second.run_id is not None
    contacted = {c for c, *_ in _contacts(program_store, "queued")}
    # Queued contacts count like sent ones: nobody contacted in the first run is again.
    with program_store.session() as s:
        again = s.scalars(
            sa.select(Contact.customer_id).where(
                Contact.run_id == second.run_id, Contact.status == "queued"
            )
        ).all()
        assert not set(again) & {
            c
            for c in s.scalars(
                sa.select(Contact.customer_id).where(
                    Contact.run_id == first.run_id, Contact.status == "queued"
                )
            )
        }
        someone = sorted(contacted - set(again))[0]
        why = runs.suppressions_of(s, second.run_id, someone)
    assert why and all(w["stage"] == "policy" and "gap-48h" in w["reason"] for w in why)


def test_a_paused_program_does_not_run_and_a_pause_mid_run_writes_nothing(
    program_store: Store,
) -> None:
    claimed = runs.claim_run(program_store, "spring", actor="ana", now=NOW)
    assert claimed is not None
    with program_store.session() as s:
        programs.set_status(s, "spring", "running", actor="ana")
        programs.set_status(s, "spring", "paused", actor="ana")
        s.commit()
    result = runs.execute_run(program_store, claimed[0])
    assert result.status == "stopped" and _contacts(program_store) == []
    with program_store.session() as s:
        run = runs.get_run(s, claimed[0])
        assert run.status == "stopped" and "paused" in (run.error or "")
    with pytest.raises(Conflict, match="program 'spring' is paused"):
        runs.run_program(program_store, "spring", actor="ana", now=NOW)


def test_an_interrupted_run_is_taken_over_with_its_own_decision_time(
    program_store: Store,
) -> None:
    claimed = runs.claim_run(program_store, "spring", actor="ana", now=NOW)
    assert claimed is not None
    with program_store.session() as s:
        # Its process died before deciding anything.
        s.execute(sa.update(Run).where(Run.id == claimed[0]).values(pid=_dead_pid()))
        s.commit()
    result = runs.run_program(program_store, "spring", actor="bob", now=NOW + timedelta(days=1))
    assert result is not None and result.resumed and result.run_id == claimed[0]
    assert result.as_of == NOW
    with program_store.session() as s:
        run = runs.get_run(s, claimed[0])
        assert (run.status, run.attempts) == ("completed", 2)
        assert s.scalar(sa.select(sa.func.count()).select_from(Run)) == 1


def test_a_live_run_blocks_a_manual_one(program_store: Store) -> None:
    assert runs.claim_run(program_store, "spring", actor="ana", now=NOW) is not None
    with pytest.raises(Conflict, match="is being run right now"):
        runs.claim_run(program_store, "spring", actor="bob", now=NOW)


def test_a_scheduled_slot_runs_once(program_store: Store) -> None:
    first = runs.run_program(program_store, "spring", actor="scheduler", scheduled_for=NOW)
    assert first is not None
    count = len(_contacts(program_store))
    assert runs.run_program(program_store, "spring", actor="scheduler", scheduled_for=NOW) is None
    assert len(_contacts(program_store)) == count


def test_campaign_budget_caps_contacts(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    with program_store.session() as s:
        p = programs.get_program(s, "spring")
        doc = programs.program_data(s, p)
    doc["campaigns"][1]["budget"] = "0.05"  # 5 contacts at 0.01
    apply_yaml(yaml.safe_dump({"kind": "Program", **doc}))
    result = runs.preview(program_store, "spring", now=NOW)
    assert {f.campaign: f.after_capacity for f in result.funnel}["all-email"] == 5


def test_a_program_without_campaigns_is_refused_before_it_starts(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    apply_yaml("kind: Program\nname: empty\nowner: ana\n")
    with pytest.raises(InvalidInput, match="needs at least one campaign"):
        runs.run_program(program_store, "empty", actor="ana", now=NOW)
    with program_store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Run)) == 0


def test_customer_fixture_is_what_the_counts_above_assume() -> None:
    people = customers()
    young = [c for c in people if c["age"] < 40]
    assert sum(c["msisdn"] is None for c in young) == 2
    assert sum(c["msisdn"] is not None and not c["consent_sms"] for c in young) == 3


def test_a_running_program_takes_its_own_document_again_but_no_change(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    assert runs.run_program(program_store, "spring", actor="ana", now=NOW) is not None
    with program_store.session() as s:
        doc = programs.program_data(s, programs.get_program(s, "spring"))
    apply_yaml(yaml.safe_dump({"kind": "Program", **doc}))  # the same: "unchanged"
    doc["campaigns"][0]["capacity"] = 11
    with pytest.raises(Conflict, match="program 'spring' is running: pause it before changing"):
        apply_yaml(yaml.safe_dump({"kind": "Program", **doc}))
    with program_store.session() as s:
        assert (
            programs.program_data(s, programs.get_program(s, "spring"))["campaigns"][0]["capacity"]
            == 10
        )


def test_static_segments_lists_and_vips_come_from_the_store(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    with program_store.session() as s:
        segments.create_segment(s, "picked", ids=["c02", "c06", "c08"], actor="t")
        lists.add_entry(s, "blacklist", lists.EntryInput("c08"), actor="t")
        lists.add_entry(s, "vip", lists.EntryInput("c02"), actor="t")
        s.commit()
    apply_yaml(
        "kind: Program\nname: picked\nowner: ana\ncampaigns:\n"
        "  - {name: p, segment: picked, eligibility: \"not on_list('vip')\", offers: [GOLD],"
        " channels: [email]}\n"
    )
    result = runs.preview(program_store, "picked", now=NOW)
    (row,) = result.funnel
    # c02 is VIP (left out by the rule), c08 blacklisted: only c06 remains.
    assert row.candidates == 2 and row.excluded == {"blacklisted (list 'blacklist')": 1}
    assert row.after_capacity == 1
