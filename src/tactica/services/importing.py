"""Importing customers from a CSV or Parquet file: detect, validate, upsert, all in one go.

The path of a file through :func:`import_customers`:

1. **read** — the bytes (``.gz`` unpacked), the encoding and separator when not given,
   then pyarrow reads every CSV column as text (Parquet keeps its types);
2. **detect** — each column becomes a field: a declared one (validated against its
   type) or a new one (type detected, declared in the same transaction as the rows);
3. **validate** — every value is parsed column-wise with :mod:`pyarrow.compute`; each
   bad value becomes a :class:`~tactica.errors.RowProblem` naming file, line, column,
   value and what was expected. By default one bad value rejects the whole file;
   with ``rejects_path`` the bad rows go to a CSV and the good ones land;
4. **write** — one transaction: new columns, rows (staged in bulk, then
   ``INSERT ... ON CONFLICT`` / ``UPDATE``), the import job and its audit entry.

Nothing on the normal path loops over rows in Python: a million rows by twenty
columns is a few seconds of vectorised work plus the database's own bulk load.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import os
import re
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.schema import (
    BUILTIN_FIELDS,
    CustomerSchema,
    FieldDef,
    FieldKind,
    FieldType,
    normalise_field_name,
    validate_field_name,
)
from tactica.errors import ImportRejected, InvalidInput, NotFound, RowProblem
from tactica.services import audit
from tactica.services.import_detect import (
    FALSE_VALUES,
    TRUE_VALUES,
    Detected,
    Parsed,
    arrow_field_type,
    choose_date_format,
    clean,
    date_example,
    detect_encoding,
    detect_separator,
    detect_type,
    first_bad_utf8,
    parse_bool,
    parse_category,
    parse_date,
    parse_float,
    parse_header,
    parse_int,
    parse_timestamp,
    to_utf8,
)
from tactica.services.import_mapping import (
    ColumnMapping,
    ImportMapping,
    load_mapping,
    parse_separator,
)
from tactica.store.customer_table import SQL_TYPES, add_fields, load_schema
from tactica.store.db import Store
from tactica.store.models import ImportJob

#: ``progress(phase, done, total)``; phases are read, detect, validate, write.
Progress = Callable[[str, int, int], None]

_SAMPLE_BYTES = 1 << 16
_CHUNK_ROWS = 100_000
_MAX_PROBLEMS = 200
_MAX_ID_LENGTH = 128
#: Longest values the built-in text columns hold (their SQL types are VARCHAR(n)).
_BUILTIN_LENGTHS = {"timezone": 64, "language": 16}
_UTF8 = {"utf-8", "utf8", "utf_8", "ascii", "us-ascii", "utf-8-sig", "utf_8_sig"}


# ------------------------------------------------------------------------- report


@dataclass(frozen=True)
class ColumnReport:
    """How one file column was understood."""

    column: str
    field: str | None
    type: FieldType | None
    new: bool
    nulls: int
    skipped: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = asdict(self)
        out["type"] = self.type.value if self.type else None
        return out


@dataclass
class ImportReport:
    """What an import read, detected and wrote (or, in a dry run, would write)."""

    file: str
    format: str
    rows_read: int
    inserted: int
    updated: int
    rejected: int
    unchanged: int
    separator: str | None
    encoding: str | None
    columns: list[ColumnReport]
    new_fields: list[FieldDef]
    id_source: str
    elapsed: float
    job_id: int | None
    dry_run: bool
    rejects_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (used for the import job record and the API)."""
        return {
            "file": self.file,
            "format": self.format,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "separator": self.separator,
            "encoding": self.encoding,
            "columns": [c.to_dict() for c in self.columns],
            "new_fields": [f.name for f in self.new_fields],
            "id_source": self.id_source,
            "elapsed": round(self.elapsed, 3),
            "job_id": self.job_id,
            "dry_run": self.dry_run,
            "rejects_path": self.rejects_path,
        }


# --------------------------------------------------------------------------- read


@dataclass
class _Source:
    """A file read into Arrow: one column per header, and where each row is in the file."""

    file: str
    kind: str
    headers: list[str]
    table: pa.Table
    lines: pa.Array
    records: pa.Array
    separator: str | None = None
    encoding: str | None = None


def _read_bytes(path: Path) -> bytes:
    with path.open("rb") as f:
        magic = f.read(2)
    try:
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rb") as g:
                return g.read()
        return path.read_bytes()
    except (OSError, EOFError) as e:
        raise InvalidInput(f"cannot read the file ({e})", where=str(path)) from None


def _ragged_lines(data: bytes, sep: str, records: Sequence[int]) -> dict[int, int]:
    """Physical line of each 1-based record number (header = 1); error path only."""
    wanted = set(records)
    out: dict[int, int] = {}
    reader = csv.reader(
        io.StringIO(data.decode("utf-8", errors="replace"), newline=""), delimiter=sep
    )
    start = 1
    for n, _row in enumerate(reader, start=1):
        if n in wanted:
            out[n] = start
            if len(out) == len(wanted):
                break
        start = reader.line_num + 1
    return out


def _arrow_csv(
    data: bytes, sep: str, headers: list[str], threads: bool = True
) -> tuple[pa.Table, list[Any]]:
    ragged: list[Any] = []

    def on_bad_row(row: Any) -> str:
        ragged.append(row)
        return "skip"

    read = pcsv.ReadOptions(block_size=1 << 22, use_threads=threads)
    parse = pcsv.ParseOptions(
        delimiter=sep,
        # Quoted values may hold line breaks; the option costs speed, so only when quoted.
        newlines_in_values=b'"' in data,
        ignore_empty_lines=False,
        invalid_row_handler=on_bad_row,
    )
    convert = pcsv.ConvertOptions(
        column_types=dict.fromkeys(headers, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    table = pcsv.read_csv(
        pa.py_buffer(data), read_options=read, parse_options=parse, convert_options=convert
    )
    return table, ragged


def _read_csv(path: Path, separator: str | None, encoding: str | None) -> _Source:
    file = str(path)
    raw = _read_bytes(path)
    if re.search(rb"\S", raw) is None:  # no copy of the data, unlike raw.strip()
        raise InvalidInput("the file is empty", where=file)
    enc = encoding or detect_encoding(raw[:_SAMPLE_BYTES])
    data = raw if enc.lower() in _UTF8 else to_utf8(raw, enc, file)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    sample = data[:_SAMPLE_BYTES].decode("utf-8", errors="replace")
    sep = separator or detect_separator(sample)
    headers = parse_header(sample, sep)
    named = [h for h in headers if h.strip()]
    if not named:
        raise InvalidInput("the first line must name the columns; it is empty", where=file)
    dupes = sorted({h for h in named if named.count(h) > 1})
    if dupes:
        raise InvalidInput(
            f"the header names {', '.join(map(repr, dupes))} more than once", where=file
        )
    try:
        table, ragged = _arrow_csv(data, sep, headers)
    except pa.ArrowInvalid as e:
        if "UTF8" not in str(e) or enc.lower() not in _UTF8:
            raise InvalidInput(f"cannot read as CSV ({e})", where=file) from None
        # The sample was UTF-8 but a later part is not: read the encoding there instead.
        bad = first_bad_utf8(raw) or 0
        if encoding:
            line = raw.count(b"\n", 0, bad) + 1
            raise InvalidInput(
                f"line {line}: byte 0x{raw[bad]:02x} is not valid {encoding}; "
                "pass the right --encoding",
                where=file,
            ) from None
        enc = detect_encoding(raw[max(0, bad - 2000) : bad + 2000])
        if enc.lower() in _UTF8:
            enc = "cp1252"
        data = to_utf8(raw, enc, file)
        table, ragged = _arrow_csv(data, sep, headers)
    if ragged:
        if any(r.number is None for r in ragged[:10]):
            # Row numbers are only known to a single-threaded read: redo it (error path).
            _table, ragged = _arrow_csv(data, sep, headers, threads=False)
        numbers = [r.number for r in ragged[:10] if r.number is not None]
        lines = _ragged_lines(data, sep, numbers)
        shown = []
        for r in ragged[:10]:
            where = f"line {lines.get(r.number, r.number)}" if r.number is not None else "a line"
            shown.append(f"{where} has {r.actual_columns} fields, the header {r.expected_columns}")
        more = f" (and {len(ragged) - 10} more)" if len(ragged) > 10 else ""
        raise InvalidInput(
            "rows with the wrong number of fields (wrong separator, or a value holding "
            f"an unquoted {sep!r}?): " + "; ".join(shown) + more,
            where=file,
        )
    n = table.num_rows
    # Every column is read as text; a header pyarrow splits differently from ours must
    # not bring an inferred type back in.
    table = pa.table(
        [c if pa.types.is_string(c.type) else c.cast(pa.string()) for c in table.columns],
        names=[f"c{i}" for i in range(table.num_columns)],
    )
    lines = pc.add(pa.array(range(n), pa.int64()), 2)
    # Only a quoted value can hold a line break, so unquoted files skip the search.
    quoted = b'"' in data
    newline_counts = [
        pc.count_substring(col, "\n")
        for col in (table.columns if quoted else [])
        if pc.any(pc.match_substring(col, "\n")).as_py()
    ]
    if newline_counts:
        # A quoted value holding line breaks pushes every later row further down the file.
        extra = newline_counts[0]
        for more_lines in newline_counts[1:]:
            extra = pc.add(extra, more_lines)
        extra = pc.cast(extra, pa.int64())
        lines = pc.add(lines, pc.subtract(pc.cumulative_sum(extra), extra))
    records = pa.array(range(1, n + 1), pa.int64())
    source = _Source(file, "csv", headers, table, _flat(lines), records, sep, enc)
    return _drop_blank_rows(source)


def _flat(a: Any) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def _drop_blank_rows(src: _Source) -> _Source:
    """Without the rows whose every value is empty (blank lines, or only separators)."""
    blank = None
    for col in src.table.columns:
        empty = pc.equal(pc.utf8_trim_whitespace(col), "")
        blank = empty if blank is None else pc.and_(blank, empty)
        if not pc.any(blank).as_py():
            return src  # usually decided by the first column
    if blank is not None:
        keep = pc.invert(_flat(blank))
        src.table = src.table.filter(keep)
        src.lines = src.lines.filter(keep)
        src.records = src.records.filter(keep)
    return src


def _read_parquet(path: Path) -> _Source:
    file = str(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise InvalidInput(f"cannot read as Parquet ({e})", where=file) from None
    headers = list(table.column_names)
    for name, col in zip(headers, table.columns, strict=True):
        t = col.type
        if pa.types.is_nested(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
            raise InvalidInput(
                f"column {name!r} has type {t}, which cannot be imported", where=file
            )
    table = table.rename_columns([f"c{i}" for i in range(table.num_columns)])
    rows = pa.array(range(1, table.num_rows + 1), pa.int64())
    return _Source(file, "parquet", headers, table, rows, rows)


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


# ------------------------------------------------------------------------- plan


@dataclass
class _Column:
    """One file column on its way to a field."""

    index: int
    header: str
    field: str
    fdef: FieldDef
    new: bool
    builtin: bool
    mapping: ColumnMapping | None
    nulls: tuple[str, ...]
    detected: Detected | None = None
    date_format: str | None = None
    parsed: Parsed | None = None  # when detection already parsed the whole column


@dataclass
class _Plan:
    columns: list[_Column]
    skipped: list[tuple[int, str, str]]  # index, header, why
    id_index: int | None
    id_prefix: str | None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv", ".tsv", ".txt", ".parquet", ".pq"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.").lower()
    return slug or "import"


def _find_header(headers: list[str], name: str) -> int | None:
    for i, h in enumerate(headers):
        if h == name:
            return i
    for i, h in enumerate(headers):
        if (
            normalise_field_name(h) == normalise_field_name(name)
            or h.strip().lower() == name.lower()
        ):
            return i
    return None


def _auto_field(header: str) -> str:
    plain = header.strip().lower()
    if plain in ("timezone", "language"):  # the built-in columns, set by name
        return plain
    return normalise_field_name(header)


def _plan(
    src: _Source,
    m: ImportMapping,
    schema: CustomerSchema,
    id_column: str | None,
    id_prefix: str | None,
    path: Path,
) -> _Plan:
    headers = src.headers
    problems: list[str] = []
    # Every mapping key must name a column of the file.
    matched: dict[int, ColumnMapping] = {}
    for key, mapped_col in m.columns.items():
        idx = _find_header(headers, key)
        if idx is None:
            which = "the mapping" if m.source == "mapping" else f"the mapping {m.source}"
            problems.append(f"{which} names column {key!r}, which the file does not have")
        else:
            matched[idx] = mapped_col
    # The id column: command line, mapping, a column mapped to `id`, or a column called id.
    id_index: int | None = None
    id_name = id_column or m.id.column
    generate = m.id.generate or id_prefix is not None
    if id_name:
        id_index = _find_header(headers, id_name)
        if id_index is None:
            problems.append(f"id column {id_name!r} is not in the file")
    else:
        mapped = [i for i, cm in matched.items() if cm.field == "id" and not cm.skip]
        if mapped:
            id_index = mapped[0]
        elif not generate:
            named = [i for i, h in enumerate(headers) if h.strip().lower() == "id"]
            id_index = named[0] if named else None
    prefix = None if id_index is not None else (id_prefix or m.id.prefix or _stem(path))
    columns: list[_Column] = []
    skipped: list[tuple[int, str, str]] = []
    targets: dict[str, str] = {}
    for i, header in enumerate(headers):
        cm = matched.get(i)
        if i == id_index:
            continue
        if cm is not None and cm.skip:
            skipped.append((i, header, "skipped by the mapping"))
            continue
        if not header.strip():
            col = src.table.column(i)
            if (
                src.kind == "csv"
                and not pc.any(pc.not_equal(pc.utf8_trim_whitespace(col), "")).as_py()
            ):
                skipped.append((i, header, "no header and no values"))
                continue
            problems.append(f"column {i + 1} has values but no name in the header")
            continue
        name = cm.field if cm is not None and cm.field else _auto_field(header)
        if name in targets:
            problems.append(
                f"columns {targets[name]!r} and {header!r} both become field {name!r}; "
                "rename one in the mapping"
            )
            continue
        targets[name] = header
        nulls = tuple(dict.fromkeys((*m.null_values, *(cm.null_values if cm else ()))))
        builtin = name in BUILTIN_FIELDS
        existing = schema.get(name)
        if name == "id":
            problems.append(f"column {header!r}: only one column can hold the customer id")
            continue
        if builtin or existing is not None:
            declared = existing or FieldDef(name, BUILTIN_FIELDS[name])
            problems += _conflicts(header, declared, cm)
            columns.append(_Column(i, header, name, declared, False, builtin, cm, nulls))
            continue
        why = validate_field_name(name)
        if why:
            problems.append(f"column {header!r}: field name {name!r} {why}")
            continue
        columns.append(
            _Column(i, header, name, _new_def(name, cm, header, path), True, False, cm, nulls)
        )
    if problems:
        if any("does not have" in p for p in problems):
            problems.append("the file's columns are: " + ", ".join(map(repr, headers)))
        raise InvalidInput("; ".join(problems), where=src.file)
    return _Plan(columns, skipped, id_index, prefix)


def _conflicts(header: str, declared: FieldDef, cm: ColumnMapping | None) -> list[str]:
    if cm is None:
        return []
    out = []
    if cm.type is not None and cm.type is not declared.type:
        out.append(
            f"column {header!r} maps to field {declared.name!r}, which is {declared.type.value}; "
            f"the mapping says {cm.type.value}"
        )
    if cm.kind is not None and cm.kind is not declared.kind:
        out.append(
            f"field {declared.name!r} is a {declared.kind.value}, the mapping says {cm.kind.value}"
        )
    if cm.channel is not None and cm.channel != declared.channel:
        out.append(
            f"field {declared.name!r} has channel {declared.channel}, the mapping says {cm.channel}"
        )
    if cm.categories is not None and set(cm.categories) != set(declared.categories):
        out.append(
            f"field {declared.name!r} is declared with other categories; change the field "
            "before importing with these"
        )
    return out


def _new_def(name: str, cm: ColumnMapping | None, header: str, path: Path) -> FieldDef:
    """A field to declare; its type is left to detection unless the mapping implies one."""
    kind = cm.kind if cm and cm.kind else FieldKind.ATTRIBUTE
    ftype = cm.type if cm else None
    if ftype is None and kind is FieldKind.CONTACT_POINT:
        ftype = FieldType.TEXT
    if ftype is None and (kind is FieldKind.CONSENT or (cm and cm.true_values)):
        ftype = FieldType.BOOL
    if ftype is None and cm and cm.categories:
        ftype = FieldType.CATEGORY
    return FieldDef(
        name=name,
        type=ftype or FieldType.TEXT,
        kind=kind,
        channel=cm.channel if cm else None,
        categories=tuple(cm.categories or ()) if cm else (),
        description=(
            cm.description if cm and cm.description else f"Imported from column {header!r}"
        ),
    )


# ---------------------------------------------------------------------- convert


def _as_text(a: pa.Array) -> pa.Array:
    """The values as strings (Parquet numbers, dates and dictionaries included)."""
    if pa.types.is_string(a.type):
        return a
    if pa.types.is_dictionary(a.type):
        a = a.dictionary_decode()
    return pc.cast(a, pa.string())


def _prepared(raw: pa.Array, nulls: Sequence[str]) -> pa.Array:
    """The column with null markers applied: trimmed text for CSV, typed values for Parquet."""
    if (
        pa.types.is_string(raw.type)
        or pa.types.is_large_string(raw.type)
        or pa.types.is_dictionary(raw.type)
    ):
        return clean(_as_text(raw), nulls)
    if nulls:
        marked = pc.fill_null(
            pc.is_in(_as_text(raw), value_set=pa.array(list(nulls), pa.string())), False
        )
        return pc.if_else(marked, pa.scalar(None, raw.type), raw)
    return raw


def _expected(col: _Column) -> str:
    f = col.fdef
    cm = col.mapping
    if f.type is FieldType.INT:
        return "an integer"
    if f.type is FieldType.FLOAT:
        return "a number"
    if f.type is FieldType.BOOL:
        trues = cm.true_values if cm and cm.true_values else TRUE_VALUES
        falses = cm.false_values if cm and cm.false_values else FALSE_VALUES
        return f"true or false ({', '.join(trues)} / {', '.join(falses)})"
    if f.type is FieldType.DATE:
        return f"a date like {date_example(col.date_format)}"
    if f.type is FieldType.TIMESTAMP:
        return f"a date and time like {date_example(col.date_format, with_time=True)}"
    if f.type is FieldType.CATEGORY:
        cats = list(f.categories)
        if not cats:
            return "a value without NUL characters"
        shown = ", ".join(cats[:12]) + (", ..." if len(cats) > 12 else "")
        return f"one of: {shown}"
    if col.builtin:
        return f"a {col.field} of at most {_BUILTIN_LENGTHS[col.field]} characters, without NUL"
    return "text without NUL characters"


def _parse(col: _Column, values: pa.Array) -> Parsed:
    """Typed values of a prepared column for its field type, and the bad-value mask."""
    t = col.fdef.type
    native = arrow_field_type(values.type)
    if native is not None and not pa.types.is_dictionary(values.type) and native is t:
        typed = {
            FieldType.INT: pa.int64(),
            FieldType.FLOAT: pa.float64(),
            FieldType.BOOL: pa.bool_(),
            FieldType.DATE: pa.date32(),
            FieldType.TIMESTAMP: pa.timestamp("us"),
        }[t]
        if pa.types.is_timestamp(values.type) and values.type.tz is not None:
            values = pc.cast(values, pa.timestamp("us", tz="UTC"))
        with suppress(pa.ArrowInvalid):  # e.g. a uint64 too big for int64: checked as text
            cast = pc.cast(values, typed)
            return Parsed(cast, _falses(cast))
    if native is FieldType.INT and t is FieldType.FLOAT:
        cast = pc.cast(values, pa.float64())
        return Parsed(cast, _falses(cast))
    text = _as_text(values)
    cm = col.mapping
    if t is FieldType.INT:
        return parse_int(text)
    if t is FieldType.FLOAT:
        return parse_float(text)
    if t is FieldType.BOOL:
        if cm is not None and cm.true_values is not None and cm.false_values is not None:
            return parse_bool(text, cm.true_values, cm.false_values)
        return parse_bool(text)
    if t is FieldType.DATE:
        return parse_date(text, col.date_format or "YYYY-MM-DD")
    if t is FieldType.TIMESTAMP:
        return parse_timestamp(text, col.date_format)
    # PostgreSQL cannot store NUL in text (SQLite truncates there): such a value is bad input.
    has_nul = pc.fill_null(pc.match_substring(text, "\x00"), False)
    if t is FieldType.CATEGORY:
        parsed = parse_category(text, col.fdef.categories)
        return Parsed(parsed.values, pc.or_(parsed.bad, has_nul))
    if col.builtin:
        too_long = pc.fill_null(
            pc.greater(pc.utf8_length(text), _BUILTIN_LENGTHS[col.field]), False
        )
        return Parsed(text, pc.or_(too_long, has_nul))
    return Parsed(text, has_nul)


def _falses(a: pa.Array) -> pa.Array:
    return pa.repeat(pa.scalar(False), len(a))


def _settle_type(col: _Column, values: pa.Array, source_type: pa.DataType, file: str) -> None:
    """Fix the type of a new column (detected unless the mapping gave it) and its date layout."""
    cm = col.mapping
    if (
        col.new
        and (cm is None or cm.type is None)
        and col.fdef.kind is FieldKind.ATTRIBUTE
        and not (cm and (cm.true_values or cm.categories))
    ):
        # A typed (Parquet) column keeps its type; a dictionary-encoded one is a category.
        native = arrow_field_type(source_type)
        if native is not None:
            col.detected = Detected(native, note=f"Parquet {source_type}")
        else:
            col.detected, col.parsed = detect_type(_as_text(values))
        col.fdef = FieldDef(
            col.fdef.name,
            col.detected.type,
            col.fdef.kind,
            col.fdef.channel,
            (),
            col.fdef.description,
        )
        col.date_format = col.detected.format
    if col.fdef.type in (FieldType.DATE, FieldType.TIMESTAMP) and col.date_format is None:
        if cm is not None and cm.format:
            col.date_format = cm.format
        elif col.fdef.type is FieldType.DATE and arrow_field_type(values.type) is None:
            try:
                col.date_format = choose_date_format(_as_text(values))
            except InvalidInput as e:
                raise InvalidInput(e.detail, where=f"{file}, column {col.header!r}") from None


# ---------------------------------------------------------------------- storage


def _storage(values: pa.Array, ftype: FieldType, dialect: str) -> pa.Array:
    """Values as the database stores them; on SQLite dates and times are ISO text, bools 0/1."""
    if dialect != "sqlite":
        return values
    if ftype is FieldType.BOOL:
        return pc.cast(values, pa.int64())
    if ftype in (FieldType.DATE, FieldType.TIMESTAMP):
        # Arrow prints dates as 2024-01-31 and microsecond timestamps with six fractional
        # digits, 2024-01-31 13:45:00.000000: exactly the text SQLAlchemy writes and reads.
        return pc.cast(values, pa.string())
    return values


# ------------------------------------------------------------------------- write


def _sql_type(col: str, types: Mapping[str, FieldType], dialect: sa.Dialect) -> str:
    if col == "id" or col in BUILTIN_FIELDS:
        return "TEXT"
    return str(SQL_TYPES[types[col]].compile(dialect=dialect))


def _csv_bytes(batch: pa.RecordBatch) -> bytes:
    buf = io.BytesIO()
    options = pcsv.WriteOptions(include_header=False, quoting_style="needed")
    pcsv.write_csv(batch, buf, write_options=options)
    return buf.getvalue()


def _csv_chunks(table: pa.Table) -> Iterator[tuple[int, bytes]]:
    """The rows as CSV for COPY, chunk by chunk; the next chunk is made while one is sent."""
    batches = iter(table.to_batches(max_chunksize=_CHUNK_ROWS))
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead: deque[tuple[int, Future[bytes]]] = deque()
        for batch in itertools.islice(batches, 2):
            ahead.append((batch.num_rows, pool.submit(_csv_bytes, batch)))
        while ahead:
            n, chunk = ahead.popleft()
            following = next(batches, None)
            if following is not None:
                ahead.append((following.num_rows, pool.submit(_csv_bytes, following)))
            yield n, chunk.result()


@dataclass
class _Written:
    inserted: int = 0
    updated: int = 0
    changed: int = 0


def _existing_ids(store: Store, ids: pa.Array) -> pa.Array:
    """Which of ``ids`` are customers already (for a dry run: read, nothing written)."""
    from tactica.store.arrow import fetch_arrow

    table = fetch_arrow(store, "SELECT id FROM customers", {"id": "text"})
    return pc.is_in(ids, value_set=table.column("id").combine_chunks())


def _stage_sqlite(table: pa.Table, folder: Path, notify: Progress) -> Path:
    """Write the rows to a scratch SQLite file with ADBC: Arrow in, no Python object per value.

    The stdlib driver would need a Python tuple per row (executemany); ADBC binds the
    Arrow buffers directly, several times faster. The scratch file is attached to the
    import's own connection afterwards, so the rows still land in its one transaction.
    """
    import adbc_driver_sqlite.dbapi as adbc

    path = folder / "stage.db"
    conn = adbc.connect(str(path), autocommit=True)
    try:
        cur = conn.cursor()
        try:
            # A scratch copy: no journal, no fsync; it is thrown away after the import.
            for pragma in ("PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF"):
                cur.execute(pragma)
                cur.fetchall()
            done = 0
            batches = table.to_batches(max_chunksize=_CHUNK_ROWS) or [table.slice(0, 0)]
            for i, batch in enumerate(batches):
                cur.adbc_ingest("rows", batch, mode="create" if i == 0 else "append")
                done += batch.num_rows
                notify("write", done, table.num_rows)
        finally:
            cur.close()
    finally:
        conn.close()
    return path


def _write_sqlite(
    conn: sa.Connection, table: pa.Table, stage_file: Path, notify: Progress
) -> _Written:
    """Upsert the staged rows into ``customers`` in the caller's transaction."""
    cols = [c for c in table.column_names if c != "id"]
    q = conn.dialect.identifier_preparer.quote
    # ATTACH works inside a transaction (DETACH does not: the caller detaches after it).
    conn.exec_driver_sql("ATTACH DATABASE ? AS tactica_stage", (str(stage_file),))
    source = "tactica_stage.rows"
    empty = conn.exec_driver_sql("SELECT NOT EXISTS (SELECT 1 FROM customers)").scalar_one()
    existing = (
        0
        if empty
        else conn.exec_driver_sql(
            f"SELECT count(*) FROM {source} s JOIN customers c ON c.id = s.id"
        ).scalar_one()
    )
    before = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
    now = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    names = ", ".join(["id", *[q(c) for c in cols]])
    sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in cols)
    changed = " OR ".join(f"customers.{q(c)} IS NOT excluded.{q(c)}" for c in cols) or "false"
    update = (
        f"DO UPDATE SET {sets}, updated_at = excluded.updated_at WHERE {changed}"
        if cols
        else "DO NOTHING"
    )
    # Into an empty table a plain INSERT does; otherwise an upsert that leaves rows whose
    # values are the same untouched. `WHERE true` tells SQLite's parser the ON CONFLICT
    # belongs to the INSERT, not to a join.
    conflict = "" if empty else f"ON CONFLICT (id) {update}"
    conn.exec_driver_sql(
        f"INSERT INTO customers ({names}, created_at, updated_at) "
        f"SELECT {names}, ?, ? FROM {source} WHERE true {conflict}",
        (now, now),
    )
    total = conn.exec_driver_sql("SELECT total_changes()").scalar_one() - before
    inserted = table.num_rows - existing
    notify("write", table.num_rows, table.num_rows)
    return _Written(inserted=inserted, updated=existing, changed=total - inserted)


def _copy(
    raw: Any, sql: str, table: pa.Table, notify: Progress | None, base: int, total: int
) -> None:
    done = base
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for n, chunk in _csv_chunks(table):
            copy.write(chunk)
            done += n
            if notify:
                notify("write", done, total)


def _write_postgresql(
    conn: sa.Connection, table: pa.Table, types: Mapping[str, FieldType], notify: Progress
) -> _Written:
    cols = [c for c in table.column_names if c != "id"]
    q = conn.dialect.identifier_preparer.quote
    raw: Any = conn.connection.dbapi_connection
    # Other writers wait until the import commits; readers go on.
    conn.exec_driver_sql("LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE")
    ids = table.column("id")
    if conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM customers)").scalar_one():
        conn.exec_driver_sql("CREATE TEMP TABLE tactica_import_ids (id TEXT) ON COMMIT DROP")
        _copy(
            raw, "COPY tactica_import_ids FROM STDIN (FORMAT csv)", table.select(["id"]), None, 0, 0
        )
        out = io.BytesIO()
        with (
            raw.cursor() as cur,
            cur.copy(
                "COPY (SELECT i.id FROM tactica_import_ids i JOIN customers c ON c.id = i.id) "
                "TO STDOUT (FORMAT csv)"
            ) as copy,
        ):
            for data in copy:
                out.write(data)
        found = _read_id_csv(out.getvalue())
        existing = pc.is_in(ids, value_set=found)
    else:
        existing = pc.fill_null(pc.is_null(ids), False)
    new_rows = table.filter(pc.invert(existing))
    old_rows = table.filter(existing)
    names = ", ".join(["id", *[q(c) for c in cols]])
    total = table.num_rows
    # New customers go straight in with COPY, the fastest way into PostgreSQL.
    _copy(raw, f"COPY customers ({names}) FROM STDIN (FORMAT csv)", new_rows, notify, 0, total)
    changed = 0
    if old_rows.num_rows and cols:
        defs = ", ".join(f"{q(c)} {_sql_type(c, types, conn.dialect)}" for c in cols)
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE tactica_import_stage (id TEXT, {defs}) ON COMMIT DROP"
        )
        _copy(
            raw,
            "COPY tactica_import_stage FROM STDIN (FORMAT csv)",
            old_rows,
            notify,
            new_rows.num_rows,
            total,
        )
        sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in cols)
        left = ", ".join(f"c.{q(c)}" for c in cols)
        right = ", ".join(f"s.{q(c)}" for c in cols)
        result = conn.exec_driver_sql(
            f"UPDATE customers AS c SET {sets}, updated_at = now() FROM tactica_import_stage AS s "
            f"WHERE c.id = s.id AND ROW({left}) IS DISTINCT FROM ROW({right})"
        )
        changed = result.rowcount
    notify("write", total, total)
    return _Written(inserted=new_rows.num_rows, updated=old_rows.num_rows, changed=changed)


def _read_id_csv(data: bytes) -> pa.Array:
    if not data:
        return pa.array([], pa.string())
    t = pcsv.read_csv(
        pa.py_buffer(data),
        read_options=pcsv.ReadOptions(column_names=["id"]),
        convert_options=pcsv.ConvertOptions(
            column_types={"id": pa.string()}, strings_can_be_null=False
        ),
    )
    return t.column("id").combine_chunks()


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tactica-import-") as d:
        yield Path(d)


# ------------------------------------------------------------------------ import


def import_customers(
    store: Store,
    path: str | Path,
    *,
    mapping: str | Path | ImportMapping | Mapping[str, Any] | None = None,
    id_column: str | None = None,
    id_prefix: str | None = None,
    separator: str | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    rejects_path: str | Path | None = None,
    actor: str = "cli",
    progress: Progress | None = None,
) -> ImportReport:
    """Import customers from a CSV (any separator, ``.gz`` too) or Parquet file.

    Columns become fields (declared ones validated, new ones detected and declared);
    rows are upserted by id. All or nothing: any bad value raises ImportRejected and
    nothing is written, unless ``rejects_path`` is given, in which case bad rows are
    written there and the good ones land. ``dry_run`` checks everything and writes
    nothing. Returns an :class:`ImportReport`.
    """
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    notify: Progress = progress or (lambda _phase, _done, _total: None)
    path = Path(path)
    m = load_mapping(mapping)
    if not path.is_file():
        raise NotFound(f"file not found: {path}")
    sep = parse_separator(separator, "--separator") if separator else m.separator

    # 1. read
    notify("read", 0, 1)
    is_parquet = _is_parquet(path)
    src = _read_parquet(path) if is_parquet else _read_csv(path, sep, encoding or m.encoding)
    if src.table.num_rows == 0:
        raise InvalidInput("the file has a header but no data rows", where=src.file)
    notify("read", 1, 1)

    # 2. detect
    with store.session() as s:
        schema = load_schema(s)
    plan = _plan(src, m, schema, id_column, id_prefix, path)
    prepared: dict[int, pa.Array] = {}

    def detect(col: _Column) -> None:
        raw = _flat(src.table.column(col.index))
        values = _prepared(raw, col.nulls)
        prepared[col.index] = values
        _settle_type(col, values, raw.type, src.file)

    _each_column("detect", plan.columns, detect, notify)
    new_defs = [c.fdef for c in plan.columns if c.new]
    problems_defs = [p for f in new_defs for p in f.problems()]
    if problems_defs:
        raise InvalidInput("; ".join(problems_defs), where=src.file)

    # 3. validate
    parsed: dict[int, Parsed] = {}
    dialect = store.dialect
    stored: dict[int, pa.Array] = {}

    def validate(col: _Column) -> None:
        p = col.parsed or _parse(col, prepared.pop(col.index))
        col.parsed = None
        parsed[col.index] = p
        stored[col.index] = _storage(p.values, col.fdef.type, dialect)

    _each_column("validate", plan.columns, validate, notify)
    prepared.clear()
    ids, id_bad, id_expected = _ids(src, plan)
    bad_cols: list[tuple[int, str, pa.Array, str]] = [
        (c.index, c.header, parsed[c.index].bad, _expected(c))
        for c in plan.columns
        if pc.any(parsed[c.index].bad).as_py()
    ]
    if plan.id_index is not None and pc.any(id_bad).as_py():
        bad_cols.insert(0, (plan.id_index, src.headers[plan.id_index], id_bad, id_expected))
    # Generated ids are unique by construction; ids from a column are checked.
    dup_bad, dup_expected = (
        _duplicates(ids, id_bad, src.lines) if plan.id_index is not None else (None, None)
    )
    any_bad: pa.Array | None = None
    for _i, _h, mask, _e in bad_cols:
        any_bad = mask if any_bad is None else pc.or_(any_bad, mask)
    if dup_bad is not None:
        any_bad = dup_bad if any_bad is None else pc.or_(any_bad, dup_bad)
    rejected = int(pc.sum(any_bad).as_py() or 0) if any_bad is not None else 0
    if rejected and rejects_path is None:
        raise ImportRejected(
            _problems(src, bad_cols, dup_bad, dup_expected, plan.id_index, ids), rejected
        )

    # Rows that land, as the database stores them.
    out: dict[str, pa.Array] = {"id": ids}
    types: dict[str, FieldType] = {}
    for col in plan.columns:
        out[col.field] = stored.pop(col.index)
        types[col.field] = col.fdef.type
    landing = pa.table(out)
    if any_bad is not None and rejected:
        landing = landing.filter(pc.invert(any_bad))

    column_reports = _column_reports(src, plan, parsed)
    if plan.id_index is not None:
        id_source = f"column {src.headers[plan.id_index]!r}"
    else:
        first, second = (_id_for(plan.id_prefix or "", n) for n in (1, 2))
        id_source = f"generated: {first}, {second}, ..."
    report = ImportReport(
        file=src.file,
        format=src.kind,
        rows_read=src.table.num_rows,
        inserted=0,
        updated=0,
        rejected=rejected,
        unchanged=0,
        separator=src.separator,
        encoding=src.encoding,
        columns=column_reports,
        new_fields=new_defs,
        id_source=id_source,
        elapsed=0.0,
        job_id=None,
        dry_run=dry_run,
    )
    if dry_run:
        existing = _existing_ids(store, landing.column("id").combine_chunks())
        report.updated = int(pc.sum(existing).as_py() or 0)
        report.inserted = landing.num_rows - report.updated
        report.elapsed = time.perf_counter() - started
        return report

    # 4. write: one transaction for new columns, rows, job and audit entry.
    notify("write", 0, landing.num_rows)
    with _scratch() as scratch:
        stage_file = _stage_sqlite(landing, scratch, notify) if dialect == "sqlite" else None
        # The transaction starts only now: staging took no lock on the store.
        with store.engine.connect() as conn:
            try:
                with Session(bind=conn) as session:
                    if new_defs:
                        add_fields(session, new_defs)
                    sql_conn = session.connection()
                    if stage_file is not None:
                        written = _write_sqlite(sql_conn, landing, stage_file, notify)
                    else:
                        written = _write_postgresql(sql_conn, landing, types, notify)
                    report.inserted = written.inserted
                    report.updated = written.updated
                    report.unchanged = written.updated - written.changed
                    report.elapsed = time.perf_counter() - started
                    job = ImportJob(
                        file=str(path),
                        actor=actor,
                        started_at=_db_time(started_at, dialect),
                        finished_at=_db_time(datetime.now(UTC), dialect),
                        rows_read=report.rows_read,
                        rows_inserted=report.inserted,
                        rows_updated=report.updated,
                        rows_rejected=report.rejected,
                        detected=report.to_dict(),
                    )
                    session.add(job)
                    session.flush()
                    report.job_id = job.id
                    audit.record(
                        session,
                        actor,
                        "import",
                        "customers",
                        job.id,
                        after={
                            "file": str(path),
                            "rows_read": report.rows_read,
                            "inserted": report.inserted,
                            "updated": report.updated,
                            "rejected": report.rejected,
                            "new_fields": [f.name for f in new_defs],
                        },
                    )
                    session.commit()
            finally:
                if stage_file is not None:
                    raw: Any = conn.connection.dbapi_connection
                    # Not attached when the transaction failed early: nothing to undo then.
                    with suppress(Exception):
                        raw.execute("DETACH DATABASE tactica_stage")
    if rejects_path is not None:
        # Written once the good rows are in, so a failed write leaves no rejects file behind.
        report.rejects_path = str(rejects_path)
        _write_rejects(Path(rejects_path), src, bad_cols, dup_bad, dup_expected, any_bad)
    report.elapsed = time.perf_counter() - started
    return report


def _each_column(
    phase: str, columns: Sequence[_Column], work: Callable[[_Column], None], notify: Progress
) -> None:
    """Run ``work`` on every column, several at once: Arrow's kernels release the GIL."""
    total = len(columns)
    notify(phase, 0, total)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        futures = [pool.submit(work, col) for col in columns]
        for done, future in enumerate(as_completed(futures), start=1):
            future.result()  # re-raises the column's error, if any
            notify(phase, done, total)


def _db_time(value: datetime, dialect: str) -> datetime:
    # SQLite keeps no offset: store UTC without tzinfo, as the rest of Tactica does.
    return value.replace(tzinfo=None) if dialect == "sqlite" else value


def _id_for(prefix: str, n: int) -> str:
    joiner = "" if prefix and not prefix[-1].isalnum() else "-"
    return f"{prefix}{joiner}{n:06d}"


def _ids(src: _Source, plan: _Plan) -> tuple[pa.Array, pa.Array, str]:
    """The customer id of every row, which ones are unusable, and what an id must be."""
    expected = f"a customer id (not empty, at most {_MAX_ID_LENGTH} characters)"
    if plan.id_index is not None:
        ids = clean(_as_text(_flat(src.table.column(plan.id_index))))
        too_long = pc.greater(pc.utf8_length(ids), _MAX_ID_LENGTH)
        bad = pc.fill_null(too_long, True)
        return ids, bad, expected
    prefix = plan.id_prefix or "import"
    joiner = "" if not prefix[-1].isalnum() else "-"
    # Data-row numbers: the same rows get the same ids when the file is imported again.
    padded = pc.utf8_lpad(pc.cast(src.records, pa.string()), 6, "0")
    ids = pc.binary_join_element_wise(f"{prefix}{joiner}", padded, "")
    return ids, _falses(ids), expected


def _duplicates(
    ids: pa.Array, id_bad: pa.Array, lines: pa.Array
) -> tuple[pa.Array | None, pa.Array | None]:
    """Rows whose id an earlier row has already; and, for each, that earlier line."""
    t = pa.table({"id": ids, "line": lines}).filter(pc.invert(id_bad))
    counts = t.group_by("id").aggregate([("line", "min"), ("line", "count")])
    dups = counts.filter(pc.greater(counts.column("line_count"), 1))
    if dups.num_rows == 0:
        return None, None
    everything = pa.table({"id": ids, "line": lines, "pos": pa.array(range(len(ids)), pa.int64())})
    joined = everything.join(dups.select(["id", "line_min"]), "id", join_type="inner")
    later = joined.filter(pc.greater(joined.column("line"), joined.column("line_min")))
    pos = pa.array(range(len(ids)), pa.int64())
    mask = pc.is_in(pos, value_set=later.column("pos").combine_chunks())
    # The first line of each duplicated id, aligned with the rows (null elsewhere).
    first = pa.table({"pos": pos}).join(
        later.select(["pos", "line_min"]), "pos", join_type="left outer"
    )
    first = first.sort_by("pos")
    return mask, _flat(first.column("line_min"))


def _problems(
    src: _Source,
    bad_cols: list[tuple[int, str, pa.Array, str]],
    dup_bad: pa.Array | None,
    dup_first: pa.Array | None,
    id_index: int | None,
    ids: pa.Array,
) -> list[RowProblem]:
    """The first bad values, in file order (an error path: a Python loop is fine here)."""
    found: list[tuple[int, int, RowProblem]] = []
    for index, header, mask, expected in bad_cols:
        where = pc.indices_nonzero(mask).slice(0, _MAX_PROBLEMS)
        lines = pc.take(src.lines, where).to_pylist()
        values = pc.take(_as_text(_flat(src.table.column(index))), where).to_pylist()
        for line, value in zip(lines, values, strict=True):
            found.append((line, index, RowProblem(src.file, line, header, value or "", expected)))
    if dup_bad is not None and dup_first is not None:
        header = src.headers[id_index] if id_index is not None else "id"
        where = pc.indices_nonzero(dup_bad).slice(0, _MAX_PROBLEMS)
        lines = pc.take(src.lines, where).to_pylist()
        values = pc.take(ids, where).to_pylist()
        firsts = pc.take(dup_first, where).to_pylist()
        for line, value, first in zip(lines, values, firsts, strict=True):
            expected = f"a new id (line {first} has the same id)"
            found.append(
                (line, id_index or -1, RowProblem(src.file, line, header, value, expected))
            )
    found.sort(key=lambda p: (p[0], p[1]))
    return [p for _l, _i, p in found[:_MAX_PROBLEMS]]


def _write_rejects(
    path: Path,
    src: _Source,
    bad_cols: list[tuple[int, str, pa.Array, str]],
    dup_bad: pa.Array | None,
    dup_first: pa.Array | None,
    any_bad: pa.Array | None,
) -> None:
    """The rejected rows with their original values, plus ``_line`` and ``_reason``."""
    none = pa.scalar(None, pa.string())
    reasons: list[pa.Array] = []
    for index, header, mask, expected in bad_cols:
        raw = _as_text(_flat(src.table.column(index)))
        text = pc.binary_join_element_wise(f"{header}: '", raw, f"' is not {expected}", "")
        reasons.append(pc.if_else(mask, text, none))
    if dup_bad is not None and dup_first is not None:
        text = pc.binary_join_element_wise(
            "id already on line ", pc.cast(dup_first, pa.string()), ""
        )
        reasons.append(pc.if_else(dup_bad, text, none))
    reason = reasons[0]
    for more in reasons[1:]:
        # (binary_join_element_wise's null_handling="skip" drops all-null rows: joined by hand)
        both = pc.binary_join_element_wise(reason, more, "; ")
        reason = pc.coalesce(both, reason, more)
    columns = [_as_text(_flat(c)) for c in src.table.columns]
    table = pa.table(
        [*columns, src.lines, reason],
        names=[*src.headers, "_line", "_reason"],
    )
    if any_bad is not None:
        table = table.filter(any_bad)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = pcsv.WriteOptions(delimiter=src.separator or ",", quoting_style="needed")
    pcsv.write_csv(table, str(path), write_options=options)


def _column_reports(src: _Source, plan: _Plan, parsed: Mapping[int, Parsed]) -> list[ColumnReport]:
    by_index: dict[int, ColumnReport] = {}
    for col in plan.columns:
        values = parsed[col.index].values
        note = col.detected.note if col.detected else ""
        if col.nulls:
            note = (note + "; " if note else "") + "null: " + ", ".join(col.nulls)
        if col.date_format and col.date_format != "YYYY-MM-DD" and "format" not in note:
            note = (note + "; " if note else "") + f"format {col.date_format}"
        by_index[col.index] = ColumnReport(
            column=col.header,
            field=col.field,
            type=col.fdef.type,
            new=col.new,
            nulls=values.null_count,
            note=note,
        )
    for index, header, why in plan.skipped:
        by_index[index] = ColumnReport(header, None, None, False, 0, skipped=True, note=why)
    if plan.id_index is not None:
        by_index[plan.id_index] = ColumnReport(
            src.headers[plan.id_index], "id", FieldType.TEXT, False, 0, note="customer id"
        )
    return [by_index[i] for i in sorted(by_index)]


def upload_name(name: str | None) -> str:
    """The name an uploaded file is kept under: the user's own (ids and error messages
    use it), with nothing path-like."""
    base = Path(name or "upload.csv").name
    return re.sub(r"[^A-Za-z0-9._-]", "_", base)[:120] or "upload.csv"


def import_upload(
    store: Store,
    file_name: str | None,
    stream: BinaryIO,
    *,
    keep_rejects: bool = False,
    **options: Any,
) -> tuple[ImportReport, str | None]:
    """Import customers from a file uploaded over HTTP (the API's and the web's).

    The upload is copied to a scratch folder under its own name (nothing path-like
    kept), imported with :func:`import_customers` and ``options``, and removed; errors
    and the report name the file as the user knows it. With ``keep_rejects`` the good
    rows land and the rejected ones come back as CSV text (else None).
    """
    with tempfile.TemporaryDirectory(prefix="tactica-import-") as tmp:
        path = Path(tmp) / upload_name(file_name)
        with path.open("wb") as out:
            shutil.copyfileobj(stream, out)
        rejects = Path(tmp) / "rejects.csv" if keep_rejects else None
        try:
            report = import_customers(store, path, rejects_path=rejects, **options)
        except ImportRejected as e:
            problems = [replace(p, file=path.name) for p in e.problems]
            raise ImportRejected(problems, e.total_bad_rows) from None
        except InvalidInput as e:
            err = InvalidInput(e.detail.replace(str(path), path.name))
            err.where = e.where.replace(str(path), path.name) if e.where else None
            raise err from None
        report.file, report.rejects_path = path.name, None
        text = rejects.read_text(encoding="utf-8") if rejects and rejects.exists() else None
        return report, text
