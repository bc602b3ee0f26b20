"""The real bank file (41,188 rows, ``;``, gzip, no id column) end to end on both databases."""

from __future__ import annotations

from pathlib import Path

from tactica.domain.schema import FieldType
from tactica.services import customers
from tactica.services.importing import import_customers
from tactica.store.db import Store
from tests.integration.importing.conftest import BANK, customer_columns, rows, scalar

MAPPING = {"columns": {"pdays": {"null_values": ["999"]}}}


def test_bank_file_dry_run_import_and_reimport(store: Store, tmp_path: Path) -> None:
    phases: set[str] = set()

    def progress(phase: str, done: int, total: int) -> None:
        assert 0 <= done <= max(total, 1)
        phases.add(phase)

    # A dry run detects and counts, and writes nothing.
    dry = import_customers(store, BANK, mapping=MAPPING, dry_run=True)
    assert (dry.rows_read, dry.inserted, dry.updated, dry.job_id) == (41188, 41188, 0, None)
    assert len(dry.new_fields) == 17
    assert "age" not in customer_columns(store)
    assert scalar(store, "SELECT count(*) FROM customers") == 0
    assert scalar(store, "SELECT count(*) FROM import_jobs") == 0

    r = import_customers(store, BANK, mapping=MAPPING, progress=progress)
    assert (r.rows_read, r.inserted, r.updated, r.rejected) == (41188, 41188, 0, 0)
    assert (r.separator, r.encoding, r.format) == (";", "utf-8", "csv")
    assert r.id_source == "generated: bank-marketing-000001, bank-marketing-000002, ..."
    assert {"read", "detect", "validate", "write"} <= phases
    types = {c.field: c.type for c in r.columns}
    assert types["age"] is FieldType.INT
    assert types["job"] is FieldType.CATEGORY
    assert types["default"] is FieldType.CATEGORY  # no / yes / unknown
    assert types["emp_var_rate"] is FieldType.FLOAT
    assert types["nr_employed"] is FieldType.FLOAT
    assert types["y"] is FieldType.INT  # 0/1 stays int; `type: bool` in a mapping for a flag
    assert types["pdays"] is FieldType.INT
    pdays = next(c for c in r.columns if c.field == "pdays")
    assert pdays.nulls == 39673 and pdays.new

    assert scalar(store, "SELECT count(*) FROM customers") == 41188
    assert scalar(store, "SELECT count(*) FROM customers WHERE pdays IS NULL") == 39673
    assert scalar(store, "SELECT max(pdays) FROM customers") == 27
    assert scalar(store, "SELECT count(DISTINCT job) FROM customers WHERE job = 'unknown'") == 1
    with store.session() as s:
        first = customers.get_customer(s, "bank-marketing-000001")
        last = customers.get_customer(s, "bank-marketing-041188")
        fields = {f.name: f for f in customers.list_fields(s)}
    assert (first["age"], first["job"], first["pdays"], first["y"]) == (56, "housemaid", None, 0)
    assert first["emp_var_rate"] == 1.1 and first["cons_conf_idx"] == -36.4
    assert last["id"] == "bank-marketing-041188"
    assert fields["job"].categories == ()  # detected categories stay open
    job = rows(store, "SELECT rows_read, rows_inserted, rows_updated, actor FROM import_jobs")
    assert job == [(41188, 41188, 0, "cli")]
    audit = rows(store, "SELECT action, entity_type, entity_id FROM audit_log")
    assert audit == [("import", "customers", str(r.job_id))]

    # The same file again: the same ids, so every row is an update (with nothing changed).
    again = import_customers(store, BANK, mapping=MAPPING)
    assert (again.inserted, again.updated, again.unchanged) == (0, 41188, 41188)
    assert again.new_fields == []
    assert all(not c.new for c in again.columns)
    assert scalar(store, "SELECT count(*) FROM customers") == 41188
    assert scalar(store, "SELECT count(*) FROM import_jobs") == 2
