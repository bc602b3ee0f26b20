"""Files of every shape land right: separators, encodings, Parquet, mappings, ids, storage."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tactica.domain.schema import FieldDef, FieldKind, FieldType
from tactica.services import customers
from tactica.services.importing import import_customers
from tactica.store.db import Store
from tests.integration.importing.conftest import rows, scalar, write


def test_separators_and_encodings_are_detected(store: Store, tmp_path: Path) -> None:
    body = [("1", "José", "Zürich"), ("2", "Hélène", "Orléans"), ("3", "Ana", "Évora")]
    cases = {
        "comma.csv": (",", "utf-8", "utf-8"),
        "tab.tsv": ("\t", "utf-8", "utf-8"),
        "pipe.txt": ("|", "utf-8", "utf-8"),
        "excel.csv": (";", "cp1252", "cp1252"),
        "bom.csv": (",", "utf-8-sig", "utf-8"),
    }
    for n, (name, (sep, enc, detected)) in enumerate(cases.items()):
        lines = [sep.join(("id", "name", "city"))] + [
            sep.join((f"{name}-{i}", who, city)) for i, who, city in body
        ]
        path = write(tmp_path, name, "\r\n".join(lines) + "\r\n", enc)
        r = import_customers(store, path)
        assert (r.separator, r.encoding, r.inserted) == (sep, detected, 3), name
        assert r.id_source == "column 'id'"
        assert [c.new for c in r.columns if c.field == "name"] == [n == 0]
    got = rows(store, "SELECT id, name, city FROM customers WHERE id LIKE 'excel%' ORDER BY id")
    assert got == [(f"excel.csv-{i}", who, city) for i, who, city in body]
    assert scalar(store, "SELECT count(*) FROM customers WHERE city = 'Zürich'") == 5


def test_gzip_latin1_and_quoted_values(store: Store, tmp_path: Path) -> None:
    text = 'id;note;amount\n1;"says ""hi""; twice";1.5\n2;"multi\nline";2\n3;plain;\n'
    path = tmp_path / "notes.csv.gz"
    path.write_bytes(gzip.compress(text.encode("latin-1")))
    r = import_customers(store, path)
    assert (r.separator, r.inserted) == (";", 3)
    got = rows(store, "SELECT id, note, amount FROM customers ORDER BY id")
    assert got == [("1", 'says "hi"; twice', 1.5), ("2", "multi\nline", 2.0), ("3", "plain", None)]


def test_typed_values_round_trip(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "typed.csv",
        "id,born,seen,vip,score,visits,code\n"
        "a,1980-05-17,2024-01-31 13:45:00,yes,1.25,3,007\n"
        "b,1999-12-31,2024-02-01T08:00:00.123456+01:00,no,,,012\n",
    )
    r = import_customers(store, path)
    types = {c.field: c.type for c in r.columns}
    assert types == {
        "id": FieldType.TEXT,
        "born": FieldType.DATE,
        "seen": FieldType.TIMESTAMP,
        "vip": FieldType.BOOL,
        "score": FieldType.FLOAT,
        "visits": FieldType.INT,
        "code": FieldType.TEXT,  # a leading zero: a code, not a number
    }
    with store.session() as s:
        a = customers.get_customer(s, "a")
        b = customers.get_customer(s, "b")
    assert (a["born"], a["seen"], a["vip"], a["score"], a["visits"], a["code"]) == (
        date(1980, 5, 17),
        datetime(2024, 1, 31, 13, 45),
        True,
        1.25,
        3,
        "007",
    )
    assert b["seen"] == datetime(2024, 2, 1, 7, 0, 0, 123456)  # +01:00 stored as UTC
    assert (b["vip"], b["score"], b["visits"]) == (False, None, None)
    if store.dialect == "sqlite":  # the text layouts the rule compiler relies on
        raw = rows(store, "SELECT born, seen, vip, typeof(vip) FROM customers ORDER BY id")
        assert raw == [
            ("1980-05-17", "2024-01-31 13:45:00.000000", 1, "integer"),
            ("1999-12-31", "2024-02-01 07:00:00.123456", 0, "integer"),
        ]


def test_ids_from_a_column_upsert_only_the_imported_columns(store: Store, tmp_path: Path) -> None:
    first = write(tmp_path, "crm.csv", "Customer No,Age,Region\nc1,30,north\nc2,40,south\n")
    r = import_customers(store, first, id_column="Customer No")
    assert (r.inserted, r.updated) == (2, 0)
    assert {c.field for c in r.columns} == {"id", "age", "region"}
    before = dict(rows(store, "SELECT id, updated_at FROM customers"))
    # A second file about the same people: age changes for c1 only, region is not in it.
    second = write(tmp_path, "ages.csv", "Customer No;Age\nc1;31\nc2;40\nc3;50\n")
    r = import_customers(store, second, id_column="Customer No")
    assert (r.inserted, r.updated, r.unchanged) == (1, 2, 1)
    got = rows(store, "SELECT id, age, region FROM customers ORDER BY id")
    assert got == [("c1", 31, "north"), ("c2", 40, "south"), ("c3", 50, None)]
    after = dict(rows(store, "SELECT id, updated_at FROM customers"))
    assert after["c2"] == before["c2"]  # unchanged rows keep their updated_at
    assert after["c1"] != before["c1"]


def test_generated_ids_with_a_prefix_and_builtin_columns(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "leads 2024.csv", "name,Language,timezone\nAna,pt,Europe/Lisbon\n")
    r = import_customers(store, path)
    assert r.id_source.startswith("generated: leads-2024-000001")
    assert {c.field: c.new for c in r.columns} == {
        "name": True,
        "language": False,
        "timezone": False,
    }
    r = import_customers(store, path, id_prefix="lead")
    got = rows(store, "SELECT id, language, timezone FROM customers ORDER BY id")
    assert got == [
        ("lead-000001", "pt", "Europe/Lisbon"),
        ("leads-2024-000001", "pt", "Europe/Lisbon"),
    ]


def test_mapping_with_contact_points_and_consents(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "contacts.csv",
        "ref,phone,sms_ok,work_email,mail_ok,Flag,secret\n"
        "r1,+351911111111,S,ana@work.pt,yes,1,x\n"
        "r2,+351922222222,N,,no,0,y\n",
    )
    mapping = {
        "id": "ref",
        "columns": {
            "phone": "msisdn",
            "sms_ok": {"field": "consent_sms", "true_values": ["S"], "false_values": ["N"]},
            "work_email": {"kind": "contact_point", "channel": "email", "description": "Work"},
            "mail_ok": {"kind": "consent", "channel": "mail"},
            "Flag": {"field": "is_flagged", "type": "bool"},
        },
        "skip": ["secret"],
    }
    r = import_customers(store, path, mapping=mapping)
    assert r.inserted == 2
    report = {c.column: (c.field, c.type, c.new, c.skipped) for c in r.columns}
    assert report["phone"] == ("msisdn", FieldType.TEXT, False, False)
    assert report["sms_ok"] == ("consent_sms", FieldType.BOOL, False, False)
    assert report["work_email"] == ("work_email", FieldType.TEXT, True, False)
    assert report["secret"] == (None, None, False, True)
    with store.session() as s:
        fields = {f.name: f for f in customers.list_fields(s)}
        r1 = customers.get_customer(s, "r1")
        r2 = customers.get_customer(s, "r2")
    assert fields["work_email"] == FieldDef(
        "work_email", FieldType.TEXT, FieldKind.CONTACT_POINT, "email", (), "Work"
    )
    assert fields["mail_ok"].kind is FieldKind.CONSENT and fields["mail_ok"].type is FieldType.BOOL
    assert "secret" not in fields
    assert (r1["msisdn"], r1["consent_sms"], r1["mail_ok"], r1["is_flagged"]) == (
        "+351911111111",
        True,
        True,
        True,
    )
    assert (r2["consent_sms"], r2["work_email"], r2["is_flagged"]) == (False, None, False)


def test_parquet_types_come_from_its_schema(store: Store, tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "age": pa.array([30, None, 50], pa.int32()),
            "balance": pa.array([1.5, 2.25, None], pa.float64()),
            "active": pa.array([True, False, None]),
            "joined": pa.array([date(2020, 1, 2), date(2021, 3, 4), None], pa.date32()),
            "seen": pa.array(
                [datetime(2024, 1, 1, 12, tzinfo=UTC), None, None], pa.timestamp("ms", tz="UTC")
            ),
            "tier": pa.array(["gold", "gold", "silver"]).dictionary_encode(),
            "name": pa.array(["Ana", "Rui", None]),
            "pdays": pa.array([999, 3, 999], pa.int64()),
        }
    )
    path = tmp_path / "people.parquet"
    pq.write_table(table, path)
    r = import_customers(store, path, mapping={"columns": {"pdays": {"null_values": ["999"]}}})
    assert (r.format, r.separator, r.inserted) == ("parquet", None, 3)
    types = {c.field: c.type for c in r.columns}
    assert types == {
        "id": FieldType.TEXT,
        "age": FieldType.INT,
        "balance": FieldType.FLOAT,
        "active": FieldType.BOOL,
        "joined": FieldType.DATE,
        "seen": FieldType.TIMESTAMP,
        "tier": FieldType.CATEGORY,
        "name": FieldType.TEXT,
        "pdays": FieldType.INT,
    }
    with store.session() as s:
        one = customers.get_customer(s, "1")
    assert (one["age"], one["active"], one["joined"], one["tier"], one["pdays"]) == (
        30,
        True,
        date(2020, 1, 2),
        "gold",
        None,
    )
    assert one["seen"] == datetime(2024, 1, 1, 12)
    assert scalar(store, "SELECT count(*) FROM customers WHERE pdays = 3") == 1


def test_a_column_mapped_to_the_id_field(sqlite_store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "Ref|Score\nr-1|1.5\nr-2|2\n")
    r = import_customers(sqlite_store, path, mapping={"columns": {"Ref": "id"}})
    assert r.id_source == "column 'Ref'" and r.separator == "|"
    assert rows(sqlite_store, "SELECT id, score FROM customers ORDER BY id") == [
        ("r-1", 1.5),
        ("r-2", 2.0),
    ]
