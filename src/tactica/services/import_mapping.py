"""The import mapping file: how the columns of a customer file become customer fields.

A mapping is a small YAML document (see ``docs/importing.md``)::

    id: {generate: true, prefix: bank-}
    null_values: ["NA"]
    columns:
      pdays: {type: int, null_values: ["999"]}
      emp.var.rate: emp_var_rate
      y: {field: subscribed, type: bool, true_values: ["1"], false_values: ["0"]}
      phone: {field: msisdn}
    skip: [internal_note]

:func:`load_mapping` reads and checks it, naming the mapping file, the key path and
what was expected for every problem, and returns an :class:`ImportMapping`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tactica.domain.schema import CHANNELS, FieldKind, FieldType
from tactica.errors import InvalidInput, NotFound

#: Separators a mapping (or the command line) may name; ``tab`` and ``\\t`` mean a tab.
SEPARATOR_NAMES: dict[str, str] = {
    ",": ",",
    ";": ";",
    "|": "|",
    "\t": "\t",
    "\\t": "\t",
    "tab": "\t",
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
}

_TOP_KEYS = ("id", "null_values", "columns", "skip", "separator", "encoding")
_COLUMN_KEYS = (
    "field",
    "type",
    "kind",
    "channel",
    "categories",
    "description",
    "null_values",
    "true_values",
    "false_values",
    "format",
    "skip",
)
_ID_KEYS = ("column", "generate", "prefix")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


@dataclass(frozen=True)
class ColumnMapping:
    """What the mapping says about one file column (every setting optional)."""

    source: str
    field: str | None = None
    type: FieldType | None = None
    kind: FieldKind | None = None
    channel: str | None = None
    categories: tuple[str, ...] | None = None
    description: str | None = None
    null_values: tuple[str, ...] = ()
    true_values: tuple[str, ...] | None = None
    false_values: tuple[str, ...] | None = None
    format: str | None = None
    skip: bool = False


@dataclass(frozen=True)
class IdSpec:
    """Where customer ids come from: a column, or generated from a prefix and the row number."""

    column: str | None = None
    generate: bool = False
    prefix: str | None = None


@dataclass(frozen=True)
class ImportMapping:
    """A checked mapping: per-column settings, the id rule, global null markers."""

    columns: Mapping[str, ColumnMapping] = field(default_factory=dict)
    id: IdSpec = field(default_factory=IdSpec)
    null_values: tuple[str, ...] = ()
    separator: str | None = None
    encoding: str | None = None
    source: str = "mapping"

    def for_column(self, header: str, field_name: str) -> ColumnMapping | None:
        """The settings for a file column, matched by its header or its field name."""
        return self.columns.get(header) or self.columns.get(field_name)


def parse_separator(raw: str, where: str) -> str:
    """The one-character separator a user named (``;``, ``tab``, ``\\t``, ``|``...)."""
    sep = SEPARATOR_NAMES.get(raw, raw if len(raw) == 1 else None)
    # The CSV reader splits on one ASCII byte.
    if sep is None or sep in ('"', "\n", "\r") or not sep.isascii():
        raise InvalidInput(
            f"expected one ASCII character such as ',', ';', '|' or 'tab', got {raw!r}",
            where=where,
        )
    return sep


class _Checker:
    """Collects problems with their key path so that one error lists them all."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def bad(self, path: str, expected: str, got: Any) -> None:
        self.problems.append(f"{path}: expected {expected}, got {_show(got)}")

    def keys(self, path: str, data: Mapping[Any, Any], allowed: tuple[str, ...]) -> None:
        for k in data:
            if k not in allowed:
                where = f"{path}.{k}" if path else str(k)
                self.problems.append(f"{where}: unknown key; allowed keys are {', '.join(allowed)}")

    def text(self, path: str, value: Any) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        self.bad(path, "a non-empty string", value)
        return None

    def strings(self, path: str, value: Any) -> tuple[str, ...] | None:
        """A list of strings; integers are taken as their digits, YAML booleans refused."""
        if isinstance(value, str | int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            self.bad(path, "a list of strings", value)
            return None
        out: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, bool):
                # YAML 1.1 reads yes/no/on/off/true/false unquoted as booleans and the
                # original spelling is lost, so the user must quote it.
                self.problems.append(
                    f"{path}[{i}]: YAML read this as a boolean ({item}); "
                    f"quote it, e.g. '{'yes' if item else 'no'}'"
                )
            elif isinstance(item, str | int):
                out.append(str(item))
            else:
                self.bad(f"{path}[{i}]", "a string", item)
        return tuple(out)

    def choice(self, path: str, value: Any, options: tuple[str, ...]) -> str | None:
        if isinstance(value, str) and value in options:
            return value
        self.bad(path, f"one of {', '.join(options)}", value)
        return None

    def flag(self, path: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        self.bad(path, "true or false", value)
        return False


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{value!r} ({type(value).__name__})"


def _column(c: _Checker, path: str, source: str, raw: Any) -> ColumnMapping | None:
    if isinstance(raw, str):  # shorthand: `header: field_name`
        return ColumnMapping(source=source, field=raw.strip() or None)
    if raw is None:
        return ColumnMapping(source=source)
    if not isinstance(raw, dict):
        c.bad(path, "a field name or a mapping of settings", raw)
        return None
    c.keys(path, raw, _COLUMN_KEYS)
    types = tuple(t.value for t in FieldType)
    kinds = tuple(k.value for k in FieldKind)
    ftype = c.choice(f"{path}.type", raw["type"], types) if "type" in raw else None
    kind = c.choice(f"{path}.kind", raw["kind"], kinds) if "kind" in raw else None
    channel = c.choice(f"{path}.channel", raw["channel"], CHANNELS) if "channel" in raw else None
    fmt = c.text(f"{path}.format", raw["format"]) if "format" in raw else None
    if fmt and ftype not in (FieldType.DATE.value, FieldType.TIMESTAMP.value):
        c.problems.append(f"{path}.format: only a date or timestamp column takes a format")
    cats = c.strings(f"{path}.categories", raw["categories"]) if "categories" in raw else None
    if cats is not None and ftype not in (None, FieldType.CATEGORY.value):
        c.problems.append(f"{path}.categories: only a category column lists categories")
    trues = c.strings(f"{path}.true_values", raw["true_values"]) if "true_values" in raw else None
    falses = (
        c.strings(f"{path}.false_values", raw["false_values"]) if "false_values" in raw else None
    )
    if (trues is None) != (falses is None):
        c.problems.append(f"{path}: give both true_values and false_values, or neither")
    if trues and falses and set(trues) & set(falses):
        c.problems.append(
            f"{path}: true_values and false_values share {sorted(set(trues) & set(falses))}"
        )
    desc = raw.get("description")
    if desc is not None and not isinstance(desc, str):
        c.bad(f"{path}.description", "a string", desc)
        desc = None
    field_name = c.text(f"{path}.field", raw["field"]) if "field" in raw else None
    nulls = c.strings(f"{path}.null_values", raw["null_values"]) if "null_values" in raw else ()
    return ColumnMapping(
        source=source,
        field=field_name,
        type=FieldType(ftype) if ftype else None,
        kind=FieldKind(kind) if kind else None,
        channel=channel,
        categories=cats,
        description=desc,
        null_values=nulls or (),
        true_values=trues,
        false_values=falses,
        format=fmt,
        skip=c.flag(f"{path}.skip", raw["skip"]) if "skip" in raw else False,
    )


def _id_spec(c: _Checker, raw: Any) -> IdSpec:
    if raw is None:
        return IdSpec()
    if isinstance(raw, str):
        return IdSpec(column=raw)
    if not isinstance(raw, dict):
        c.bad("id", "a column name or {column: ...} or {generate: true, prefix: ...}", raw)
        return IdSpec()
    c.keys("id", raw, _ID_KEYS)
    column = c.text("id.column", raw["column"]) if "column" in raw else None
    generate = c.flag("id.generate", raw["generate"]) if "generate" in raw else False
    prefix = None
    if "prefix" in raw:
        prefix = str(raw["prefix"]) if isinstance(raw["prefix"], str | int) else None
        if prefix is None or not _PREFIX.match(prefix):
            c.bad(
                "id.prefix",
                "letters, digits, '_', '.', ':' or '-' (at most 64, starting with a letter "
                "or digit)",
                raw["prefix"],
            )
    if column and (generate or prefix):
        c.problems.append("id: give either column, or generate/prefix, not both")
    return IdSpec(column=column, generate=generate or prefix is not None, prefix=prefix)


def parse_mapping(data: Any, source: str = "mapping") -> ImportMapping:
    """Check an already-parsed mapping (a dict, as read from YAML) and return it.

    Raises InvalidInput listing every problem as ``key.path: expected ..., got ...``.
    """
    c = _Checker(source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(
            f"expected a mapping of settings at the top, got {_show(data)}", where=source
        )
    c.keys("", data, _TOP_KEYS)
    columns: dict[str, ColumnMapping] = {}
    raw_cols = data.get("columns") or {}
    if not isinstance(raw_cols, dict):
        c.bad("columns", "a mapping of column header to settings", raw_cols)
        raw_cols = {}
    for key, raw in raw_cols.items():
        if not isinstance(key, str):
            c.problems.append(
                f"columns.{key}: a column header must be a string; quote it in the YAML, "
                f"e.g. '{key}'"
            )
            continue
        col = _column(c, f"columns.{key}", key, raw)
        if col is not None:
            columns[key] = col
    skip = c.strings("skip", data["skip"]) if "skip" in data else ()
    for name in skip or ():
        if name in columns and not columns[name].skip:
            c.problems.append(f"skip: column {name!r} also has settings under columns")
        columns[name] = ColumnMapping(source=name, skip=True)
    targets: dict[str, str] = {}
    for key, col in columns.items():
        if col.field and not col.skip:
            if col.field in targets:
                c.problems.append(
                    f"columns.{key}.field: columns {targets[col.field]!r} and {key!r} both "
                    f"map to field {col.field!r}"
                )
            targets[col.field] = key
    nulls = c.strings("null_values", data["null_values"]) if "null_values" in data else ()
    separator = None
    if "separator" in data:
        sep_raw = data["separator"]
        if isinstance(sep_raw, str):
            try:
                separator = parse_separator(sep_raw, "separator")
            except InvalidInput as e:
                c.problems.append(e.detail)
        else:
            c.bad("separator", "a string such as ';'", sep_raw)
    encoding = c.text("encoding", data["encoding"]) if "encoding" in data else None
    id_spec = _id_spec(c, data.get("id"))
    if c.problems:
        lines = "\n  ".join(c.problems)
        raise InvalidInput(f"the mapping has problems:\n  {lines}", where=source)
    return ImportMapping(
        columns=columns,
        id=id_spec,
        null_values=nulls or (),
        separator=separator,
        encoding=encoding,
        source=source,
    )


def load_mapping(mapping: str | Path | ImportMapping | Mapping[str, Any] | None) -> ImportMapping:
    """The mapping from a YAML file path, a parsed dict, or an ImportMapping (returned as is)."""
    if mapping is None:
        return ImportMapping()
    if isinstance(mapping, ImportMapping):
        return mapping
    if isinstance(mapping, Mapping):
        return parse_mapping(dict(mapping))
    path = Path(mapping)
    if not path.is_file():
        raise NotFound(f"mapping file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise InvalidInput(f"not UTF-8 text ({e.reason})", where=str(path)) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise InvalidInput(f"{at}not valid YAML ({problem})", where=str(path)) from None
    return parse_mapping(data, source=str(path))
