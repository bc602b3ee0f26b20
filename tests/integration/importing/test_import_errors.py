"""Bad input: precise problems, all or nothing, rejects files, and clear errors for bad files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tactica.domain.schema import FieldDef, FieldType
from tactica.errors import ImportRejected, InvalidInput, NotFound, RowProblem, TacticaError
from tactica.services import customers
from tactica.services.importing import import_customers
from tactica.store.db import Store
from tests.integration.importing.conftest import customer_columns, rows, scalar, snapshot, write

DECLARED = [
    FieldDef("age", FieldType.INT),
    FieldDef("joined", FieldType.DATE),
    FieldDef("vip", FieldType.BOOL),
    FieldDef("tier", FieldType.CATEGORY, categories=("gold", "silver")),
]


def _declare(store: Store) -> None:
    with store.session() as s:
        customers.declare_fields(s, DECLARED, actor="test")
        s.commit()


def test_declared_types_are_checked_value_by_value(store: Store, tmp_path: Path) -> None:
    _declare(store)
    path = write(
        tmp_path,
        "members.csv",
        "id,Age,joined,vip,tier\n"
        "m1,34,2024-01-31,yes,gold\n"
        "m2,old,2024-02-30,perhaps,bronze\n"
        "m3,41,2023-12-01,no,silver\n",
    )
    with pytest.raises(ImportRejected) as e:
        import_customers(store, path)
    f = str(path)
    assert e.value.total_bad_rows == 1
    assert e.value.problems == [
        RowProblem(f, 3, "Age", "old", "an integer"),
        RowProblem(f, 3, "joined", "2024-02-30", "a date like 2024-01-31"),
        RowProblem(
            f, 3, "vip", "perhaps", "true or false (true, yes, y, 1, t / false, no, n, 0, f)"
        ),
        RowProblem(f, 3, "tier", "bronze", "one of: gold, silver"),
    ]
    assert f"{f}, row 3, column 'Age': value 'old' is not an integer" in e.value.detail
    assert e.value.to_dict()["total_bad_rows"] == 1


def test_one_bad_row_at_the_end_writes_nothing(store: Store, tmp_path: Path) -> None:
    _declare(store)
    import_customers(store, write(tmp_path, "seed.csv", "id,age\nkeep,50\n"))
    before = snapshot(store)
    lines = ["id,age,city"] + [f"c{i},{20 + i % 50},town{i % 7}" for i in range(500)]
    lines.append("last,not-a-number,town1")
    path = write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    with pytest.raises(ImportRejected) as e:
        import_customers(store, path)
    assert [(p.row, p.column, p.value) for p in e.value.problems] == [(502, "age", "not-a-number")]
    # No rows, no new `city` column or field, no import job, no audit entry.
    assert snapshot(store) == before
    assert "city" not in customer_columns(store)
    assert rows(store, "SELECT id, age FROM customers") == [("keep", 50)]


def test_rejects_file_lands_the_good_rows(store: Store, tmp_path: Path) -> None:
    _declare(store)
    path = write(
        tmp_path,
        "members.csv",
        "id;age;tier;note\n"
        "m1;34;gold;fine\n"
        "m2;old;bronze;two problems\n"
        "m3;41;silver;fine\n"
        ";50;gold;no id\n"
        "m1;60;gold;again\n",
    )
    rejects = tmp_path / "out" / "rejects.csv"
    r = import_customers(store, path, rejects_path=rejects)
    assert (r.rows_read, r.inserted, r.rejected, r.rejects_path) == (5, 2, 3, str(rejects))
    assert rows(store, "SELECT id, age, tier FROM customers ORDER BY id") == [
        ("m1", 34, "gold"),
        ("m3", 41, "silver"),
    ]
    with rejects.open(newline="", encoding="utf-8") as f:
        got = list(csv.DictReader(f, delimiter=";"))
    assert [(g["id"], g["age"], g["_line"]) for g in got] == [
        ("m2", "old", "3"),
        ("", "50", "5"),
        ("m1", "60", "6"),
    ]
    assert got[0]["_reason"] == (
        "age: 'old' is not an integer; tier: 'bronze' is not one of: gold, silver"
    )
    assert "is not a customer id" in got[1]["_reason"]
    assert got[2]["_reason"] == "id already on line 2"
    assert scalar(store, "SELECT rows_rejected FROM import_jobs") == 3


def test_duplicate_ids_name_both_rows(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "dups.csv", "id,age\na,1\nb,2\na,3\nc,4\nb,5\na,6\n")
    with pytest.raises(ImportRejected) as e:
        import_customers(store, path)
    assert e.value.total_bad_rows == 3
    assert [(p.row, p.value, p.expected) for p in e.value.problems] == [
        (4, "a", "a new id (line 2 has the same id)"),
        (6, "b", "a new id (line 3 has the same id)"),
        (7, "a", "a new id (line 2 has the same id)"),
    ]
    assert scalar(store, "SELECT count(*) FROM customers") == 0


def test_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    import_customers(store, write(tmp_path, "a.csv", "id,age\nx,1\n"))
    before = snapshot(store)
    path = write(tmp_path, "b.csv", "id,age,score\nx,2,1.5\ny,3,2.5\nz,bad,1\n")
    r = import_customers(store, path, dry_run=True, rejects_path=tmp_path / "never.csv")
    assert (r.dry_run, r.inserted, r.updated, r.rejected, r.job_id) == (True, 1, 1, 1, None)
    assert [f.name for f in r.new_fields] == ["score"]
    assert snapshot(store) == before
    assert not (tmp_path / "never.csv").exists()


def test_bad_values_in_a_new_column_are_told_by_their_detected_type(
    sqlite_store: Store, tmp_path: Path
) -> None:
    # Only declared fields can have bad values; a new column takes the type all its
    # values share, so one odd value makes the whole column text instead.
    path = write(tmp_path, "a.csv", "id,n\na,1\nb,x\n")
    r = import_customers(sqlite_store, path)
    assert [c.type for c in r.columns if c.field == "n"] == [FieldType.TEXT]


def test_line_numbers_count_lines_inside_quoted_values(sqlite_store: Store, tmp_path: Path) -> None:
    _declare(sqlite_store)
    path = write(
        tmp_path,
        "q.csv",
        'id,note,age\na,"one\ntwo\nthree",1\n\nb,plain,x\n',
    )
    with pytest.raises(ImportRejected) as e:
        import_customers(sqlite_store, path)
    assert [(p.row, p.value) for p in e.value.problems] == [(6, "x")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("  \n\n", "the file is empty"),
        ("id,age\n", "the file has a header but no data rows"),
        ("id,age\n\n\n", "the file has a header but no data rows"),
        ("id,age,city\na,1,x\nb,2\nc,3,z\n", "line 3 has 2 fields, the header 3"),
        ('id,age,city\n"a\nb",1,x\nb,2\n', "line 4 has 2 fields, the header 3"),
        ("id,age,age\na,1,2\n", "the header names 'age' more than once"),
        ("id,Age,age\na,1,2\n", "columns 'Age' and 'age' both become field 'age'"),
        ("id,,age\na,x,2\n", "column 2 has values but no name in the header"),
        ("id,select\na,1\n", None),  # a reserved word becomes select_
    ],
)
def test_bad_files(sqlite_store: Store, tmp_path: Path, content: str, message: str | None) -> None:
    path = write(tmp_path, "f.csv", content)
    if message is None:
        r = import_customers(sqlite_store, path)
        assert [c.field for c in r.columns] == ["id", "select_"]
        return
    with pytest.raises(InvalidInput) as e:
        import_customers(sqlite_store, path)
    assert message in e.value.detail
    assert str(path) in e.value.detail


def test_file_and_mapping_errors(sqlite_store: Store, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="file not found"):
        import_customers(sqlite_store, tmp_path / "nope.csv")
    path = write(tmp_path, "f.csv", "id,age\na,1\n")
    with pytest.raises(InvalidInput) as e:
        import_customers(sqlite_store, path, mapping={"columns": {"agee": {"type": "int"}}})
    assert "the mapping names column 'agee', which the file does not have" in e.value.detail
    assert "the file's columns are: 'id', 'age'" in e.value.detail
    with pytest.raises(InvalidInput, match="id column 'ref' is not in the file"):
        import_customers(sqlite_store, path, id_column="ref")
    with pytest.raises(InvalidInput, match=r"columns.age.type: expected one of int"):
        import_customers(sqlite_store, path, mapping={"columns": {"age": {"type": "number"}}})
    with pytest.raises(InvalidInput, match="only contact points and consents have a channel"):
        import_customers(sqlite_store, path, mapping={"columns": {"age": {"channel": "sms"}}})
    _declare(sqlite_store)
    with pytest.raises(
        InvalidInput, match="maps to field 'age', which is int; the mapping says text"
    ):
        import_customers(sqlite_store, path, mapping={"columns": {"age": {"type": "text"}}})
    with pytest.raises(InvalidInput, match="expected one ASCII character"):
        import_customers(sqlite_store, path, separator="::")


def test_undecodable_bytes(sqlite_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"id,name\na,Jos\xe9\nb,Ana\n")
    with pytest.raises(InvalidInput, match=r"line 2: byte 0xe9 is not valid utf-8"):
        import_customers(sqlite_store, path, encoding="utf-8")
    with pytest.raises(InvalidInput, match="unknown encoding 'klingon'"):
        import_customers(sqlite_store, path, encoding="klingon")
    # Detected, it is read as cp1252.
    r = import_customers(sqlite_store, path)
    assert r.encoding == "cp1252"
    assert scalar(sqlite_store, "SELECT name FROM customers WHERE id = 'a'") == "José"


def test_non_utf8_far_into_a_utf8_looking_file(sqlite_store: Store, tmp_path: Path) -> None:
    head = "".join(f"c{i},plain\n" for i in range(20000)).encode()  # > the 64 KB sample
    path = tmp_path / "late.csv"
    path.write_bytes(b"id,name\n" + head + "x,Fran\xe7ois\n".encode("latin-1"))
    r = import_customers(sqlite_store, path)
    assert r.encoding == "cp1252" and r.inserted == 20001
    assert scalar(sqlite_store, "SELECT name FROM customers WHERE id = 'x'") == "François"


ODD_FILES = {
    "lone-cr": b"\r0\r\n",
    "cr-line-ends": b"id,age\r1,30\r2,40\r",
    "huge-header": b"id," + b"x" * 200_000 + b"\n1,2\n",
    "nul-bytes": b"id,age\n1,\x003\n",
    "only-blank": b"  \n\n \n",
    "quote-unclosed": b'id,name\n1,"open\n',
}


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_odd_files_get_an_answer_not_a_crash(store: Store, tmp_path: Path, name: str) -> None:
    """Whatever the bytes, an import either lands or says what is wrong (found by fuzzing)."""
    path = tmp_path / f"{name}.csv"
    path.write_bytes(ODD_FILES[name])
    try:
        report = import_customers(store, path, actor="t")
    except TacticaError as e:
        assert e.detail
    else:
        assert report.rows_read >= 0


def test_nul_characters_are_rejected_by_name(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"id,nick\n1,ok\n2,b\x00d\n")
    with pytest.raises(ImportRejected) as err:
        import_customers(store, path, actor="t")
    (problem,) = err.value.problems
    assert (problem.row, problem.column, problem.expected) == (
        3,
        "nick",
        "text without NUL characters",
    )


def test_a_blank_first_line_is_not_a_header(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "blank-head.csv"
    path.write_bytes(b"\r0\r\n")
    with pytest.raises(InvalidInput, match="first line must name the columns"):
        import_customers(store, path, actor="t")
