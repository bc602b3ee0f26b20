"""Run the ``tactica`` command in-process, as a user would type it, in a fresh workspace."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tactica.cli import main


@dataclass
class Run:
    """What a command printed and its exit code."""

    code: int
    out: str
    err: str


Tactica = Callable[..., Run]


@pytest.fixture
def tactica(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Tactica:
    """``tactica(*args)`` runs the CLI against the test workspace (migrated first)."""
    monkeypatch.setenv("COLUMNS", "200")  # wide tables, so assertions see whole cells

    def run(*args: str) -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["tactica", *args])
        code = 0
        try:
            main()
        except SystemExit as e:
            code = int(e.code or 0)
        got = capsys.readouterr()
        return Run(code, got.out, got.err)

    first = run("db", "upgrade")
    assert first.code == 0, first.err
    return run
