"""``tactica customers ...`` end to end on both databases, through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Tactica
from tests.integration.importing.conftest import BANK, write


@pytest.fixture
def cli(tactica: Tactica) -> Tactica:
    """``cli(*args)`` runs ``tactica`` in the test workspace, migrated first."""
    return tactica


BANK_MAPPING = """\
id: {generate: true, prefix: bank-}
columns:
  pdays: {null_values: ["999"], description: Days since the last contact}
  y: {field: subscribed, type: bool, true_values: ["1"], false_values: ["0"]}
"""


def test_import_the_bank_file(cli: Tactica, tmp_path: Path) -> None:
    mapping = write(tmp_path, "bank.yaml", BANK_MAPPING)
    r = cli("customers", "import", str(BANK), "--mapping", str(mapping), "--dry-run")
    assert r.code == 0, r.err
    assert "Dry run, nothing written. Would insert 41,188 and update 0 customers" in r.out
    assert cli("customers", "count").out.strip() == "0"

    r = cli("customers", "import", str(BANK), "--mapping", str(mapping))
    assert r.code == 0, r.err
    assert "41,188 rows (csv, separator ';', encoding utf-8)" in r.out
    assert "ids: generated: bank-000001, bank-000002, ..." in r.out
    assert "Inserted 41,188, updated 0 (0 unchanged), rejected 0" in r.out
    table = [line.split("│") for line in r.out.splitlines() if "│" in line]
    cells = {cols[1].strip(): [c.strip() for c in cols[2:]] for cols in table}
    assert cells["emp.var.rate"][:3] == ["emp_var_rate", "float", "new"]
    assert cells["y"][:3] == ["subscribed", "bool", "new"]
    assert cells["pdays"][:4] == ["pdays", "int", "new", "39,673"]
    assert cli("customers", "count").out.strip() == "41,188"

    r = cli("customers", "show", "bank-000001")
    assert r.code == 0, r.err
    assert "housemaid" in r.out and "subscribed False" in " ".join(r.out.split())

    r = cli("customers", "import", str(BANK), "--mapping", str(mapping), "--separator", ";")
    assert "Inserted 0, updated 41,188 (41,188 unchanged)" in r.out


def test_import_errors_and_rejects(cli: Tactica, tmp_path: Path) -> None:
    assert cli("customers", "add-field", "age", "int").code == 0
    path = write(tmp_path, "people.csv", "id\tage\na\t30\nb\tthirty\n")
    r = cli("customers", "import", str(path))
    assert r.code == 2
    assert "1 row(s) cannot be imported; nothing was written" in r.err
    assert "row 3, column 'age': value 'thirty' is not an integer" in r.err
    rejects = tmp_path / "rejects.csv"
    r = cli("customers", "import", str(path), "--rejects", str(rejects))
    assert r.code == 0, r.err
    assert "Inserted 1" in r.out and "rejected 1" in r.out
    assert "Rejected rows written to" in r.out
    assert rejects.read_text().splitlines()[1].startswith('"b"\t"thirty"\t3\t')
    r = cli("customers", "import", str(tmp_path / "missing.csv"))
    assert r.code == 4 and "file not found" in r.err
    bad_map = write(tmp_path, "m.yaml", "columns:\n  age: {type: integer}\n")
    r = cli("customers", "import", str(path), "--mapping", str(bad_map))
    assert r.code == 2 and "columns.age.type: expected one of int" in r.err


def test_fields_commands(cli: Tactica) -> None:
    r = cli("customers", "add-field", "tier", "category", "--categories", "gold, silver")
    assert r.code == 0, r.err
    assert "Declared field tier (category, attribute)." in r.out
    r = cli(
        "customers",
        "add-field",
        "whatsapp",
        "text",
        "--kind",
        "contact_point",
        "--channel",
        "sms",
        "--description",
        "WhatsApp number",
    )
    assert r.code == 0, r.err
    r = cli("customers", "fields")
    assert "gold, silver" in r.out
    assert "whatsapp" in r.out and "contact_point" in r.out and "WhatsApp number" in r.out
    assert "consent_sms" in r.out  # the default fields are there too
    r = cli("customers", "add-field", "tier", "text")
    assert r.code == 2 and "field 'tier' exists already" in r.err
    r = cli("customers", "add-field", "Bad Name", "int")
    assert r.code == 2 and "must start with a lower-case letter" in r.err
    r = cli("customers", "add-field", "x", "integer")
    assert r.code == 2 and "TYPE: expected one of int, float" in r.err
    r = cli("customers", "show", "nobody")
    assert r.code == 4 and "no customer 'nobody'" in r.err
