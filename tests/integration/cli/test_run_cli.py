"""``tactica run``, ``runs list/show`` and ``explain`` as a user types them."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.conftest import Tactica
from tests.integration.runs.conftest import PROGRAM, customers


def _setup(tactica: Tactica, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    with people.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(customers()[0]))
        w.writeheader()
        for c in customers():
            w.writerow({k: "" if v is None else v for k, v in c.items()})
    r = tactica("customers", "import", str(people), "--id-column", "id")
    assert r.code == 0, r.err
    assert tactica("segments", "create", "young", "--rule", "age < 40").code == 0
    program = tmp_path / "spring.yaml"
    program.write_text(PROGRAM)
    r = tactica("apply", "-f", str(program))
    assert r.code == 0, r.err


def test_preview_run_list_show_explain(tactica: Tactica, tmp_path: Path) -> None:
    _setup(tactica, tmp_path)
    dry = tactica("run", "spring", "--dry-run")
    assert dry.code == 0, dry.err
    assert "spring: dry run (nothing written)" in dry.out
    assert "no msisdn" in dry.out and "held out" in dry.out
    assert "spring" not in tactica("runs", "list").out  # the dry run wrote nothing

    done = tactica("run", "spring")
    assert done.code == 0, done.err
    assert "spring: run 1 completed" in done.out
    assert "run 1: " in done.out and "contacts queued" in done.out

    listed = tactica("runs", "list")
    assert "spring" in listed.out and "completed" in listed.out
    shown = tactica("runs", "show", "1")
    assert shown.code == 0 and "run 1 of spring (manual" in shown.out
    assert "young-sms" in shown.out and "all-email" in shown.out

    why = tactica("explain", "--run", "1", "--customer", "c04")
    assert why.code == 0, why.err
    assert "young-sms: excluded: no msisdn" in why.out
    assert "recorded by the run" in why.out
    now = tactica("explain", "--program", "spring", "--customer", "c16")
    assert now.code == 0 and "a run now (preview)" in now.out
    assert "policy 'gap-48h'" in now.out


def test_errors_name_what_is_wrong(tactica: Tactica, tmp_path: Path) -> None:
    _setup(tactica, tmp_path)
    r = tactica("run", "nope")
    assert r.code != 0 and "no program 'nope'; programs are: spring" in r.err
    r = tactica("explain", "--customer", "c01")
    assert r.code == 2 and "give either --run RUN or --program PROGRAM" in r.err
    r = tactica("runs", "show", "42")
    assert r.code != 0 and "no run 42" in r.err
    assert tactica("programs", "status", "spring", "scheduled").code == 0
    assert tactica("programs", "status", "spring", "paused").code == 0
    r = tactica("run", "spring")
    assert r.code != 0 and "program 'spring' is paused: it cannot run now" in r.err
