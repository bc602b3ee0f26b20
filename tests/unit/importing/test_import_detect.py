"""Encoding, separator and column-type detection, and the vectorised value parsers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tactica.domain.schema import FieldType
from tactica.errors import InvalidInput
from tactica.services.import_detect import (
    choose_date_format,
    clean,
    date_example,
    date_layout,
    detect_encoding,
    detect_separator,
    detect_type,
    parse_bool,
    parse_category,
    parse_date,
    parse_float,
    parse_header,
    parse_int,
    parse_timestamp,
)


def col(*values: str | None) -> pa.Array:
    return clean(pa.array(list(values), pa.string()))


def bad(parsed_bad: pa.Array) -> list[bool]:
    return [bool(x) for x in parsed_bad.to_pylist()]


# ---------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("name;city\nJosé;Zürich\n".encode(), "utf-8"),
        (b"\xef\xbb\xbfname,city\nJos\xc3\xa9,Z\xc3\xbcrich\n", "utf-8"),
        ("name;city\nJosé;Zürich\nFrançois;Besançon\n".encode("cp1252"), "cp1252"),
        ("a\tb\n1\tMüller\n".encode("cp1252"), "cp1252"),  # charset-normalizer says cp1006
        ("prix;note\n5 €;très ‘bon’\n".encode("cp1252"), "cp1252"),
        ("a,b\n1,x\n".encode("utf-16"), "utf-16"),
        (b"plain,ascii\n1,2\n", "utf-8"),
    ],
)
def test_detect_encoding(raw: bytes, expected: str) -> None:
    assert detect_encoding(raw) == expected


def test_detect_encoding_sample_cut_inside_a_character() -> None:
    raw = "name\nJosé\n".encode()
    assert detect_encoding(raw[: raw.index(b"\xa9")]) == "utf-8"


def test_cyrillic_single_byte_is_not_taken_for_western() -> None:
    raw = ("имя;город\n" + "Привет;Москва\nСергей;Новосибирск\n" * 20).encode("cp1251")
    assert detect_encoding(raw) not in ("cp1252", "latin-1")


# --------------------------------------------------------------- separator


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_detect_separator(sep: str) -> None:
    text = sep.join(["id", "name", "city"]) + "\n" + sep.join(["1", "Ana", "Porto"]) + "\n"
    assert detect_separator(text) == sep


def test_separator_inside_quotes_does_not_count() -> None:
    text = 'id;name;note\n1;"Smith, John";"a, b, c"\n2;Ana;"x,y"\n'
    assert detect_separator(text) == ";"
    assert parse_header('"a;b",c\n1,2\n', ",") == ["a;b", "c"]


def test_separator_of_a_single_column_and_a_cut_last_line() -> None:
    assert detect_separator("email\na@x.org\n") == ","
    assert detect_separator("a|b|c\n1|2|3\n4|5") == "|"  # the sample ends mid-row


# --------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-2", "+3", None, "40"], FieldType.INT),
        (["0", "1", "1", "0"], FieldType.INT),  # 0/1 is int unless the mapping says bool
        (["1.5", "2", "-3e2", ".5"], FieldType.FLOAT),
        (["007", "012", "007", "012"], FieldType.CATEGORY),  # codes, not numbers
        (["0612345678", "0698765432", "0611111111"], FieldType.TEXT),
        (["yes", "no", "Yes", None], FieldType.BOOL),
        (["true", "FALSE"], FieldType.BOOL),
        (["y", "n", "n"], FieldType.BOOL),
        (["yes", "false", "yes", "false"], FieldType.CATEGORY),  # two families: not a bool
        (["2024-01-31", "2023-12-01"], FieldType.DATE),
        (["31/01/2024", "01/02/2024"], FieldType.DATE),  # 31 cannot be a month
        (["2024-01-31 10:00:00", "2024-01-31T11:30:00.25Z"], FieldType.TIMESTAMP),
        (["a", "b", "a", "b", "c", "c"], FieldType.CATEGORY),
        (["alice", "bob", "carol"], FieldType.TEXT),  # not repeated
        ([None, None], FieldType.TEXT),
    ],
)
def test_detect_type(values: list[str | None], expected: FieldType) -> None:
    detected, _parsed = detect_type(col(*values))
    assert detected.type is expected


def test_day_first_dates_are_detected_with_their_format() -> None:
    detected, parsed = detect_type(col("31/01/2024", "01/02/2024"))
    assert detected.format == "DD/MM/YYYY"
    assert parsed is not None
    assert parsed.values.to_pylist() == [date(2024, 1, 31), date(2024, 2, 1)]


def test_ambiguous_dates_are_not_guessed() -> None:
    detected, _ = detect_type(col("01/02/2024", "03/04/2024", "01/02/2024", "03/04/2024"))
    assert detected.type is FieldType.CATEGORY
    assert "DD/MM/YYYY or MM/DD/YYYY" in detected.note
    with pytest.raises(InvalidInput, match="set the format in the mapping"):
        choose_date_format(col("01/02/2024", "03/04/2024"))
    assert choose_date_format(col("2024-01-31", "oops")) == "YYYY-MM-DD"
    assert choose_date_format(col("31.01.2024", "oops")) == "DD.MM.YYYY"


def test_many_distinct_values_are_text_and_few_repeated_ones_a_category() -> None:
    many = [f"v{i}" for i in range(60)] * 3
    assert detect_type(col(*many))[0].type is FieldType.TEXT
    few = [f"v{i}" for i in range(50)] * 2
    assert detect_type(col(*few))[0].type is FieldType.CATEGORY


def test_sample_and_full_column_agree() -> None:
    # The first 2000 values look like ints; a float far down the column decides.
    values = ["1"] * 5000 + ["2.5"]
    assert detect_type(col(*values))[0].type is FieldType.FLOAT


# ----------------------------------------------------------------- parsing


def test_clean_trims_and_applies_null_markers() -> None:
    out = clean(pa.array([" a ", "", "  ", "999", "NA", None]), ["999", "NA"])
    assert out.to_pylist() == ["a", None, None, None, None, None]


def test_parse_int() -> None:
    p = parse_int(col("12", "+7", "-3", "1.5", "0x1F", "abc", None, "1234567890123456789"))
    assert p.values.to_pylist()[:3] == [12, 7, -3]
    assert bad(p.bad) == [False, False, False, True, True, True, False, True]
    clean_ints = parse_int(col("1", "2", None))
    assert bad(clean_ints.bad) == [False, False, False]
    assert clean_ints.values.to_pylist() == [1, 2, None]


def test_parse_float() -> None:
    p = parse_float(col("1.5", "-2", "1e3", "nan", "inf", "1e999", "1,5", None))
    assert p.values.to_pylist()[:3] == [1.5, -2.0, 1000.0]
    assert bad(p.bad) == [False, False, False, True, True, True, True, False]


def test_parse_bool() -> None:
    p = parse_bool(col("Yes", "no", "1", "0", "T", "maybe", None))
    assert p.values.to_pylist() == [True, False, True, False, True, None, None]
    assert bad(p.bad) == [False] * 5 + [True, False]
    own = parse_bool(col("S", "N", "yes"), ["s"], ["n"])
    assert own.values.to_pylist()[:2] == [True, False]
    assert bad(own.bad) == [False, False, True]


def test_parse_category() -> None:
    p = parse_category(col("gold", "silver", "bronze", None), ["gold", "silver"])
    assert bad(p.bad) == [False, False, True, False]
    assert bad(parse_category(col("x"), []).bad) == [False]


def test_parse_date_checks_the_calendar() -> None:
    p = parse_date(col("2024-02-29", "2023-02-29", "2024-02-30", "2024-13-01", "2024-1-5", None))
    assert p.values.to_pylist()[0] == date(2024, 2, 29)
    assert p.values.to_pylist()[4] == date(2024, 1, 5)
    assert bad(p.bad) == [False, True, True, True, False, False]
    eu = parse_date(col("31.12.1999", "1.2.2003", "32.01.2000"), "DD.MM.YYYY")
    assert eu.values.to_pylist()[:2] == [date(1999, 12, 31), date(2003, 2, 1)]
    assert bad(eu.bad) == [False, False, True]
    old = parse_date(col("1931-05-17"))
    assert old.values.to_pylist() == [date(1931, 5, 17)]


def test_parse_timestamp_converts_offsets_to_utc() -> None:
    p = parse_timestamp(
        col(
            "2024-01-31 10:11:12",
            "2024-01-31T10:11:12.5+02:00",
            "2024-01-31T10:11Z",
            "2024-01-31",
            "2024-01-31 25:00:00",
            "yesterday",
        )
    )
    got = p.values.to_pylist()
    assert got[0] == datetime(2024, 1, 31, 10, 11, 12)
    assert got[1] == datetime(2024, 1, 31, 8, 11, 12, 500000)
    assert got[2] == datetime(2024, 1, 31, 10, 11)
    assert got[3] == datetime(2024, 1, 31)
    assert bad(p.bad) == [False, False, False, False, True, True]
    custom = parse_timestamp(col("31/01/2024 13:45", "31/01/2024"), "DD/MM/YYYY HH:mm")
    assert custom.values.to_pylist()[0] == datetime(2024, 1, 31, 13, 45)
    assert bad(custom.bad) == [False, True]


def test_date_layouts() -> None:
    assert date_layout("DD/MM/YYYY").example == "31/01/2024"
    assert date_layout("%Y%m%d").example == "20240131"
    assert date_example(None) == "2024-01-31"
    assert date_example(None, with_time=True) == "2024-01-31 13:45:00"
    assert parse_date(col("20240131"), "YYYYMMDD").values.to_pylist() == [date(2024, 1, 31)]
    with pytest.raises(InvalidInput, match="unknown part"):
        date_layout("DD/MM/YY")
    with pytest.raises(InvalidInput, match="needs a year, a month and a day"):
        date_layout("MM/YYYY")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=-(10**17), max_value=10**17), min_size=1, max_size=50))
def test_parse_int_round_trips(values: list[int]) -> None:
    p = parse_int(col(*[str(v) for v in values]))
    assert p.values.to_pylist() == values
    assert not any(p.bad.to_pylist())


@settings(max_examples=50, deadline=None)
@given(st.lists(st.dates(min_value=date(1000, 1, 1)), min_size=1, max_size=50))
def test_parse_date_round_trips_in_every_layout(days: list[date]) -> None:
    assert parse_date(col(*[d.isoformat() for d in days])).values.to_pylist() == days
    dmy = parse_date(col(*[d.strftime("%d/%m/%Y") for d in days]), "DD/MM/YYYY")
    assert dmy.values.to_pylist() == days


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
        min_size=1,
        max_size=30,
    )
)
def test_parse_timestamp_round_trips(moments: list[datetime]) -> None:
    text = [m.isoformat(sep=" ") for m in moments]
    assert parse_timestamp(col(*text)).values.to_pylist() == moments
    zoned = [m.replace(tzinfo=UTC).isoformat() for m in moments]  # +00:00: the slow path
    assert parse_timestamp(col(*zoned)).values.to_pylist() == moments
