"""The mapping file: its format, and clear errors (file, key path, expected) when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tactica.domain.schema import FieldKind, FieldType
from tactica.errors import InvalidInput, NotFound
from tactica.services.import_mapping import (
    ImportMapping,
    load_mapping,
    parse_mapping,
    parse_separator,
)

BANK = """
# the bank file: no id column, 999 in pdays means never
id: {generate: true, prefix: bank-}
separator: ";"
null_values: ["NA"]
columns:
  pdays: {type: int, null_values: ["999"]}
  emp.var.rate: emp_var_rate
  y: {field: subscribed, type: bool, true_values: ["1"], false_values: ["0"]}
  phone: {field: msisdn}
  sms_ok: {field: consent_sms, true_values: ["S"], false_values: ["N"]}
  work_email: {kind: contact_point, channel: email, description: Work address}
  joined: {type: date, format: DD/MM/YYYY}
  job: {type: category, categories: [admin., technician]}
skip: [internal_note]
"""


def test_full_mapping(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(BANK)
    m = load_mapping(path)
    assert m.source == str(path)
    assert m.id.generate and m.id.prefix == "bank-" and m.id.column is None
    assert m.separator == ";" and m.null_values == ("NA",)
    assert m.columns["pdays"].type is FieldType.INT
    assert m.columns["pdays"].null_values == ("999",)
    assert m.columns["emp.var.rate"].field == "emp_var_rate"
    y = m.columns["y"]
    assert (y.field, y.type, y.true_values, y.false_values) == (
        "subscribed",
        FieldType.BOOL,
        ("1",),
        ("0",),
    )
    assert m.columns["work_email"].kind is FieldKind.CONTACT_POINT
    assert m.columns["work_email"].channel == "email"
    assert m.columns["joined"].format == "DD/MM/YYYY"
    assert m.columns["job"].categories == ("admin.", "technician")
    assert m.columns["internal_note"].skip
    # a column is found by its header or by its field name
    assert m.for_column("emp.var.rate", "emp_var_rate") is m.columns["emp.var.rate"]
    assert m.for_column("Emp Var Rate", "emp_var_rate") is None


def test_shorthands_and_passthrough() -> None:
    m = parse_mapping({"id": "customer_no", "columns": {"Phone": "msisdn", "x": None}})
    assert m.id.column == "customer_no" and not m.id.generate
    assert m.columns["Phone"].field == "msisdn"
    assert load_mapping(m) is m
    assert load_mapping(None) == ImportMapping()
    assert load_mapping({"id": {"prefix": "p-"}}).id.generate


def test_numbers_in_value_lists_are_taken_as_text() -> None:
    m = parse_mapping({"columns": {"pdays": {"null_values": [999, "n/a"]}}})
    assert m.columns["pdays"].null_values == ("999", "n/a")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colums": {}}, "colums: unknown key; allowed keys are id, null_values"),
        ({"columns": {"a": {"typ": "int"}}}, "columns.a.typ: unknown key"),
        ({"columns": {"a": {"type": "integer"}}}, "columns.a.type: expected one of int, float"),
        ({"columns": {"a": {"kind": "phone"}}}, "columns.a.kind: expected one of attribute"),
        ({"columns": {"a": {"channel": "fax"}}}, "columns.a.channel: expected one of email"),
        ({"columns": {"a": {"null_values": {"x": 1}}}}, "columns.a.null_values: expected a list"),
        (
            {"columns": {"a": {"type": "bool", "true_values": [True], "false_values": ["n"]}}},
            "columns.a.true_values[0]: YAML read this as a boolean (True); quote it, e.g. 'yes'",
        ),
        ({"columns": {"a": {"true_values": ["y"]}}}, "give both true_values and false_values"),
        ({"columns": {"a": {"format": "DD/MM/YYYY"}}}, "only a date or timestamp column"),
        ({"columns": {"a": {"type": "int", "categories": ["x"]}}}, "only a category column"),
        ({"columns": {"a": 5}}, "columns.a: expected a field name or a mapping of settings"),
        ({"columns": {True: "x"}}, "columns.True: a column header must be a string"),
        ({"columns": {"a": "f", "b": "f"}}, "columns 'a' and 'b' both map to field 'f'"),
        ({"id": {"column": "c", "generate": True}}, "id: give either column, or generate"),
        ({"id": {"prefix": "bad prefix!"}}, "id.prefix: expected letters, digits"),
        ({"id": 12}, "id: expected a column name"),
        ({"separator": "::"}, "expected one ASCII character such as"),
        ({"separator": "\u00a7"}, "expected one ASCII character such as"),
        ({"columns": {"a": {"skip": "yes"}}}, "columns.a.skip: expected true or false"),
        (["a", "b"], "expected a mapping of settings at the top, got a list"),
    ],
)
def test_mapping_problems_name_the_key_path(data: object, message: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_mapping(data, source="m.yaml")
    assert e.value.detail.startswith("m.yaml:")
    assert message in e.value.detail


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(InvalidInput) as e:
        parse_mapping({"columns": {"a": {"type": "nope"}, "b": {"kind": "nope"}}, "x": 1})
    assert e.value.detail.count("\n") == 3


def test_mapping_file_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="mapping file not found"):
        load_mapping(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  a: [1, 2\n")
    with pytest.raises(InvalidInput, match=r"bad.yaml: line 3, column 1: not valid YAML"):
        load_mapping(bad)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("columns: {é: x}".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        load_mapping(latin)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_mapping(empty).columns == {}


@pytest.mark.parametrize(("raw", "sep"), [(";", ";"), ("tab", "\t"), ("\\t", "\t"), ("|", "|")])
def test_parse_separator(raw: str, sep: str) -> None:
    assert parse_separator(raw, "--separator") == sep


@pytest.mark.parametrize("raw", ["\x80", "§", "::", '"'])
def test_a_separator_the_csv_reader_cannot_split_on_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="expected one ASCII character"):
        parse_separator(raw, "--separator")
