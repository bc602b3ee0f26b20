"""The CLI end to end on both databases: users, offers, lists, segments, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tactica.cli import main
from tests.conftest import Tactica


def test_users_and_tokens(tactica: Tactica, monkeypatch: object) -> None:
    r = tactica("users", "create", "alice", "--role", "admin", "--password", "s3cret-pass")
    assert r.code == 0, r.err
    assert "Created user alice with role admin" in r.out
    r = tactica("users", "create", "bob", "--role", "boss", "--password", "s3cret-pass")
    assert r.code == 2
    assert "unknown role 'boss'" in r.err
    r = tactica("users", "create", "carol", "--password", "short")
    assert r.code == 2 and "at least 8 characters" in r.err
    r = tactica("users", "token", "alice")
    assert r.code == 0 and r.out.startswith("tct_")
    r = tactica("users", "list")
    assert "alice" in r.out and "admin" in r.out


def test_offers(tactica: Tactica) -> None:
    r = tactica(
        "offers",
        "create",
        "TD-12M",
        "--name",
        "12-month deposit",
        "--price",
        "0",
        "--value",
        "120.50",
        "--eligibility",
        "consent_sms",
        "--valid-to",
        "2027-12-31",
    )
    assert r.code == 0, r.err
    r = tactica("offers", "show", "TD-12M")
    assert "120.50" in r.out and "2027-12-31" in r.out
    r = tactica("offers", "create", "TD-12M", "--name", "again")
    assert r.code == 5 and "exists already" in r.err
    r = tactica("offers", "create", "X", "--name", "x", "--price", "ten")
    assert r.code == 2 and "price: 'ten' is not a number" in r.err
    r = tactica("offers", "create", "Y", "--name", "y", "--eligibility", "consent_sms and")
    assert r.code == 2 and "line 1, col 16" in r.err
    r = tactica("offers", "show", "NOPE")
    assert r.code == 4 and "no offer 'NOPE'" in r.err


def test_lists_import_export(tactica: Tactica, tmp_path: Path) -> None:
    src = tmp_path / "dnc.csv"
    src.write_text("customer_id,channel,reason\nc1,sms,STOP\nc2,all,complaint\n")
    r = tactica("lists", "import", "dnd", str(src))
    assert r.code == 0, r.err
    assert "2 entries on dnd" in r.out
    out = tmp_path / "out.csv"
    assert tactica("lists", "export", "dnd", "--out", str(out)).code == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "customer_id,channel,source,reason,created_at,expires_at"
    assert [ln.split(",")[:4] for ln in lines[1:]] == [
        ["c1", "sms", "import", "STOP"],
        ["c2", "all", "import", "complaint"],
    ]
    r = tactica("lists", "add", "vip", "c7", "--days", "30")
    assert r.code == 0
    r = tactica("lists", "list")
    assert "dnd" in r.out and "vip" in r.out
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,channel\nc1,pigeon\n")
    r = tactica("lists", "import", "dnd", str(bad))
    assert r.code == 2
    assert f"{bad}, row 2, column 'channel': value 'pigeon'" in r.err


def test_segments_need_known_attributes(tactica: Tactica) -> None:
    r = tactica("segments", "create", "x", "--rule", "agee > 3")
    assert r.code == 2
    assert "unknown attribute 'agee'" in r.err
    r = tactica("segments", "create", "optins", "--rule", "consent_sms")
    assert r.code == 0, r.err
    assert "Created segment optins: 0 customers" in r.out
    r = tactica("segments", "list")
    assert "optins" in r.out


def test_a_store_never_migrated_gets_an_answer_not_a_traceback(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "argv", ["tactica", "programs", "list"])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert "no Tactica tables yet" in err and "tactica db upgrade" in err
    assert "Traceback" not in err
