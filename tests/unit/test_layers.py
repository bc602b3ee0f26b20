"""Imports flow one way: the domain imports no I/O library and no outer layer."""

from __future__ import annotations

import ast
from pathlib import Path

import tactica

SRC = Path(tactica.__file__).parent
FORBIDDEN_IN_DOMAIN = (
    "sqlalchemy",
    "fastapi",
    "httpx",
    "duckdb",
    "pyarrow",
    "psycopg",
    "typer",
    "rich",
    "tactica.store",
    "tactica.services",
    "tactica.api",
    "tactica.cli",
    "tactica.engine",
    "tactica.channels",
    "aiosmtpd",
)


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_domain_imports_no_io_library_and_no_outer_layer() -> None:
    offenders = {
        f"{path.relative_to(SRC)}: {name}"
        for path in (SRC / "domain").rglob("*.py")
        for name in _imports(path)
        if name.startswith(FORBIDDEN_IN_DOMAIN)
    }
    assert not offenders, sorted(offenders)


def test_store_does_not_reach_up_into_services_or_entry_points() -> None:
    offenders = {
        f"{path.relative_to(SRC)}: {name}"
        for path in (SRC / "store").rglob("*.py")
        for name in _imports(path)
        if name.startswith(("tactica.services", "tactica.api", "tactica.cli"))
    }
    assert not offenders, sorted(offenders)


def test_channels_know_nothing_of_the_store_or_the_use_cases() -> None:
    """An adapter sends messages; what they say and what becomes of them is dispatch's."""
    offenders = {
        f"{path.relative_to(SRC)}: {name}"
        for path in (SRC / "channels").rglob("*.py")
        for name in _imports(path)
        if name.startswith(("sqlalchemy", "tactica.store", "tactica.services", "tactica.api"))
    }
    assert not offenders, sorted(offenders)
