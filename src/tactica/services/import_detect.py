"""What an import file holds: its encoding, separator, and the type of each column.

Everything here works on whole Arrow columns with :mod:`pyarrow.compute` (regular
expressions, casts, set membership), never value by value in Python, so a column of
a million values is detected and parsed in milliseconds. Each parser returns the typed
values and a mask of the values it could not read, which the importer turns into
row problems.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import charset_normalizer
import pyarrow as pa
import pyarrow.compute as pc

from tactica.domain.schema import FieldType
from tactica.errors import InvalidInput

#: Separators looked for when none is given, in order of preference on a tie.
SEPARATORS: tuple[str, ...] = (",", ";", "\t", "|")

#: Spellings of true and false a bool column accepts when the mapping names none.
TRUE_VALUES: tuple[str, ...] = ("true", "yes", "y", "1", "t")
FALSE_VALUES: tuple[str, ...] = ("false", "no", "n", "0", "f")

#: Pairs a column must stick to, for its type to be *detected* as bool (0/1 stays int).
BOOL_FAMILIES: tuple[tuple[str, str], ...] = (
    ("true", "false"),
    ("yes", "no"),
    ("y", "n"),
    ("t", "f"),
)

#: Date layouts tried when a column's type is detected (ISO first); see docs/importing.md.
DATE_FORMATS: tuple[str, ...] = (
    "YYYY-MM-DD",
    "DD/MM/YYYY",
    "MM/DD/YYYY",
    "YYYY/MM/DD",
    "DD.MM.YYYY",
    "DD-MM-YYYY",
    "MM-DD-YYYY",
)

#: A text column becomes a category when it has at most this many distinct values...
CATEGORY_MAX_DISTINCT = 50
#: ...each seen at least this many times on average, none longer than this.
CATEGORY_MIN_REPEAT = 2
CATEGORY_MAX_LENGTH = 100

_SAMPLE_VALUES = 2000

_INT = r"^[+-]?\d{1,18}$"
_FLOAT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$"
_LEADING_ZERO = r"^[+-]?0\d"
_ISO_TS = (
    r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"\s*(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


# --------------------------------------------------------------------------- encoding


def _is_latin_text(raw: bytes) -> bool:
    """True when the non-ASCII bytes sit inside words of ASCII letters, as in Western text.

    ``Müller`` or ``Hélène`` mix ASCII letters and single accented bytes; Cyrillic or
    Greek single-byte text has whole words of non-ASCII bytes. Tiny samples fool
    statistical detectors, this simple test does not.
    """
    hits = total = 0
    for i, b in enumerate(raw):
        if b < 0x80:
            continue
        total += 1
        before = raw[i - 1] if i > 0 else 0
        after = raw[i + 1] if i + 1 < len(raw) else 0
        if (before < 0x80 and chr(before).isalpha()) or (after < 0x80 and chr(after).isalpha()):
            hits += 1
        if total >= 4000:
            break
    return total > 0 and hits * 2 >= total


def detect_encoding(sample: bytes) -> str:
    """The encoding of a file from a sample of its first bytes.

    UTF-8 (with or without BOM) and UTF-16 with BOM are recognised exactly; otherwise
    Western text is read as cp1252 (latin-1 when cp1252 cannot), and anything else is
    left to charset-normalizer.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # final=False: the sample may end in the middle of a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if _is_latin_text(sample):
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise InvalidInput("cannot tell the text encoding of the file; pass --encoding")
    return str(best.encoding)


def to_utf8(data: bytes, encoding: str, file: str) -> bytes:
    """``data`` re-encoded as UTF-8; undecodable bytes raise InvalidInput naming the line."""
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InvalidInput(
            f"line {line}: byte 0x{data[e.start]:02x} cannot be read as {encoding} "
            f"({e.reason}); pass the right --encoding",
            where=file,
        ) from None
    except LookupError:
        raise InvalidInput(f"unknown encoding {encoding!r}", where="--encoding") from None


def first_bad_utf8(data: bytes) -> int | None:
    """Offset of the first byte that is not valid UTF-8, or None when all of it is."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start
    return None


# -------------------------------------------------------------------------- separator


def _field_counts(lines: str, sep: str) -> list[int]:
    # newline="" lets the csv module see lone '\r' line ends (old Mac exports) itself.
    try:
        return [
            len(row) for row in csv.reader(io.StringIO(lines, newline=""), delimiter=sep) if row
        ]
    except csv.Error:
        return []  # this separator cannot split the sample: not a candidate


def detect_separator(text: str) -> str:
    """The separator (``,`` ``;`` tab ``|``) that splits the sample into even rows.

    ``text`` is the decoded start of the file. Candidates that give every complete line
    the same number of fields as the header win; among them the one with most fields.
    A single-column file gets ``,``.
    """
    # Drop a last line that the sample may have cut in two.
    cut = text.rfind("\n")
    body = text[: cut + 1] if cut > 0 else text
    best, best_score = ",", (False, 1)
    for sep in SEPARATORS:
        counts = _field_counts(body, sep)
        if not counts or counts[0] < 2:
            continue
        even = all(n == counts[0] for n in counts)
        score = (even, counts[0])
        if score > best_score:
            best, best_score = sep, score
    return best


def parse_header(text: str, sep: str) -> list[str]:
    """The column names of the first record of ``text``."""
    try:
        row = next(csv.reader(io.StringIO(text, newline=""), delimiter=sep), None)
    except csv.Error as e:
        raise InvalidInput(f"the header line cannot be read as CSV ({e})", where="header") from None
    return row or []


# ------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Parsed:
    """Typed values of a column, and which input values could not be read (True = bad)."""

    values: pa.Array
    bad: pa.Array


def _bad(ok: pa.Array) -> pa.Array:
    # ok is null where the input was null: a missing value is never a bad one.
    return pc.fill_null(pc.invert(ok), False)


def _only(ok: pa.Array, values: pa.Array) -> pa.Array:
    return pc.if_else(ok, values, pa.scalar(None, values.type))


def clean(values: pa.Array, null_values: Sequence[str] = ()) -> pa.Array:
    """Trimmed strings with empty values and the given null markers turned into nulls."""
    trimmed = pc.utf8_trim_whitespace(values)
    is_null = pc.equal(trimmed, "")
    if null_values:
        is_null = pc.or_(
            is_null, pc.is_in(trimmed, value_set=pa.array(list(null_values), pa.string()))
        )
    return pc.if_else(is_null, pa.scalar(None, pa.string()), trimmed)


def _none_bad(s: pa.Array) -> pa.Array:
    return pa.repeat(pa.scalar(False), len(s))


def _try_cast(s: pa.Array, to: pa.DataType) -> pa.Array | None:
    """Arrow's own strict cast of the whole column, or None when any value does not fit.

    It is many times faster than the regular-expression path, and as strict (calendar
    checks included), so clean columns take it and only columns with a bad value pay
    for finding which ones.
    """
    try:
        return pc.cast(s, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def parse_int(s: pa.Array) -> Parsed:
    """Whole numbers of up to 18 digits, optionally signed."""
    fast = _try_cast(s, pa.int64())
    # Arrow also reads hexadecimal (0x1F); a customer file never means that.
    if fast is not None and not pc.any(pc.match_substring(s, "x", ignore_case=True)).as_py():
        return Parsed(fast, _none_bad(s))
    ok = pc.match_substring_regex(s, _INT)
    digits = pc.replace_substring_regex(_only(ok, s), r"^\+", "")
    return Parsed(pc.cast(digits, pa.int64()), _bad(ok))


def parse_float(s: pa.Array) -> Parsed:
    """Decimal numbers with a ``.`` point, optionally with an exponent (``1.5e3``)."""
    values = _try_cast(s, pa.float64())
    if values is not None:
        ok = pc.is_finite(values)  # nan, inf and 1e999 are not numbers a field can hold
    else:
        ok = pc.match_substring_regex(s, _FLOAT)
        values = pc.cast(_only(ok, s), pa.float64())
        ok = pc.and_kleene(ok, pc.is_finite(values))
    return Parsed(_only(ok, values), _bad(ok))


def parse_bool(
    s: pa.Array,
    true_values: Sequence[str] = TRUE_VALUES,
    false_values: Sequence[str] = FALSE_VALUES,
) -> Parsed:
    """Booleans from the given spellings, compared without case."""
    low = pc.utf8_lower(s)
    is_true = pc.is_in(low, value_set=pa.array([v.lower() for v in true_values], pa.string()))
    is_false = pc.is_in(low, value_set=pa.array([v.lower() for v in false_values], pa.string()))
    ok = pc.and_kleene(pc.or_(is_true, is_false), pc.is_valid(s))
    ok = pc.if_else(pc.is_valid(s), ok, pa.scalar(None, pa.bool_()))
    return Parsed(_only(ok, is_true), _bad(ok))


def parse_category(s: pa.Array, categories: Sequence[str]) -> Parsed:
    """Text restricted to the listed categories (an empty list allows any value)."""
    if not categories:
        return Parsed(s, _none_bad(s))
    ok = pc.is_in(s, value_set=pa.array(list(categories), pa.string()))
    ok = pc.if_else(pc.is_valid(s), ok, pa.scalar(None, pa.bool_()))
    return Parsed(s, _bad(ok))


# Date and time layouts, written with the tokens people know (YYYY MM DD HH mm ss) or
# as strptime directives (%Y %m %d %H %M %S).
_TOKENS = (
    ("YYYY", "y"),
    ("%Y", "y"),
    ("MM", "m"),
    ("%m", "m"),
    ("DD", "d"),
    ("%d", "d"),
    ("HH", "H"),
    ("%H", "H"),
    ("mm", "M"),
    ("%M", "M"),
    ("ss", "S"),
    ("%S", "S"),
)
_EXAMPLE = {"y": "2024", "m": "01", "d": "31", "H": "13", "M": "45", "S": "00"}


@dataclass(frozen=True)
class DateLayout:
    """A parsed date/time layout: its regular expression and an example value."""

    text: str
    regex: str
    example: str
    has_time: bool


def date_layout(fmt: str) -> DateLayout:
    """Compile a layout such as ``DD/MM/YYYY`` or ``%d/%m/%Y %H:%M``; InvalidInput if odd."""
    compact = not re.search(r"[^A-Za-z%]", fmt)
    regex, example, seen = "", "", set()
    i = 0
    while i < len(fmt):
        for token, part in _TOKENS:
            if fmt.startswith(token, i):
                if part in seen:
                    raise InvalidInput(f"{token!r} appears twice", where=f"date format {fmt!r}")
                seen.add(part)
                width = (
                    r"\d{4}" if part == "y" else r"\d{2}" if compact or part in "MS" else r"\d{1,2}"
                )
                regex += f"(?P<{part}>{width})"
                if part == "S":
                    regex += r"(?:[.,](?P<f>\d{1,9}))?"
                example += _EXAMPLE[part]
                i += len(token)
                break
        else:
            if fmt[i] == "%" or fmt[i].isalpha():
                raise InvalidInput(
                    f"unknown part {fmt[i : i + 2]!r}; use YYYY, MM, DD, HH, mm, ss "
                    "(or %Y %m %d %H %M %S) and separators",
                    where=f"date format {fmt!r}",
                )
            regex += re.escape(fmt[i])
            example += fmt[i]
            i += 1
    if not {"y", "m", "d"} <= seen:
        raise InvalidInput("needs a year, a month and a day", where=f"date format {fmt!r}")
    if "M" in seen and "H" not in seen:
        raise InvalidInput("minutes without hours", where=f"date format {fmt!r}")
    return DateLayout(fmt, f"^{regex}$", example, "H" in seen)


def _field(parts: pa.Array, name: str, names: Sequence[str]) -> pa.Array | None:
    if name not in names:
        return None
    return pc.struct_field(parts, [names.index(name)])


def _ints(values: pa.Array | None, default: int = 0) -> pa.Array | None:
    if values is None:
        return None
    filled = pc.if_else(pc.equal(values, ""), str(default), values)
    return pc.cast(filled, pa.int64())


def _compose(s: pa.Array, regex: str) -> tuple[pa.Array, pa.Array]:
    """Microseconds since 1970 (UTC) of every value matching ``regex``, and the ok mask.

    The regex names its parts y m d [H M S f z]. Calendar checks (no 30 February, no
    hour 25) come from building the day with strptime and comparing its parts back.
    """
    parts = pc.extract_regex(s, regex)
    names = [parts.type.field(i).name for i in range(parts.type.num_fields)]
    matched = pc.is_valid(parts)
    y = _ints(_field(parts, "y", names))
    m = _ints(_field(parts, "m", names))
    d = _ints(_field(parts, "d", names))
    hh = _ints(_field(parts, "H", names))
    mi = _ints(_field(parts, "M", names))
    ss = _ints(_field(parts, "S", names))
    assert y is not None and m is not None and d is not None
    day = pc.binary_join_element_wise(
        pc.utf8_lpad(pc.cast(y, pa.string()), 4, "0"),
        pc.utf8_lpad(pc.cast(m, pa.string()), 2, "0"),
        pc.utf8_lpad(pc.cast(d, pa.string()), 2, "0"),
        "-",
    )
    base = pc.strptime(day, format="%Y-%m-%d", unit="s", error_is_null=True)
    ok = pc.and_kleene(matched, pc.is_valid(base))
    ok = pc.and_kleene(ok, pc.and_kleene(pc.equal(pc.day(base), d), pc.equal(pc.month(base), m)))
    seconds = pc.cast(base, pa.int64())
    for part, limit, scale in ((hh, 23, 3600), (mi, 59, 60), (ss, 59, 1)):
        if part is not None:
            ok = pc.and_kleene(ok, pc.less_equal(part, limit))
            seconds = pc.add(seconds, pc.multiply(part, scale))
    micros = pc.multiply(seconds, 1_000_000)
    frac = _field(parts, "f", names)
    if frac is not None:
        six = pc.utf8_slice_codeunits(pc.utf8_rpad(frac, 6, "0"), 0, 6)
        micros = pc.add(micros, pc.cast(six, pa.int64()))
    zone = _field(parts, "z", names)
    if zone is not None:
        offset = _zone_seconds(zone)
        micros = pc.subtract(micros, pc.multiply(offset, 1_000_000))
    ok = pc.if_else(pc.is_valid(s), pc.fill_null(ok, False), pa.scalar(None, pa.bool_()))
    return _only(ok, micros), ok


def _zone_seconds(zone: pa.Array) -> pa.Array:
    """Offset in seconds of ``Z``, ``+02``, ``+0200`` or ``-05:30`` ('' and Z are 0)."""
    digits = pc.replace_substring(pc.replace_substring(zone, ":", ""), "Z", "")
    has = pc.greater(pc.utf8_length(digits), 0)
    padded = pc.utf8_rpad(pc.if_else(has, digits, "+0000"), 5, "0")
    hours = pc.cast(pc.utf8_slice_codeunits(padded, 1, 3), pa.int64())
    minutes = pc.cast(pc.utf8_slice_codeunits(padded, 3, 5), pa.int64())
    sign = pc.if_else(pc.equal(pc.utf8_slice_codeunits(padded, 0, 1), "-"), -1, 1)
    return pc.multiply(sign, pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60)))


def parse_date(s: pa.Array, fmt: str = "YYYY-MM-DD") -> Parsed:
    """Calendar dates in the given layout (ISO by default)."""
    if fmt == DATE_FORMATS[0]:
        fast = _try_cast(s, pa.date32())
        if fast is not None:
            return Parsed(fast, _none_bad(s))
    micros, ok = _compose(s, date_layout(fmt).regex)
    days = pc.divide(micros, 86_400_000_000)
    return Parsed(pc.cast(pc.cast(days, pa.int32()), pa.date32()), _bad(ok))


def parse_timestamp(s: pa.Array, fmt: str | None = None) -> Parsed:
    """Date and time values (ISO 8601 by default; an offset is converted to UTC)."""
    if fmt is None:
        fast = _try_cast(s, pa.timestamp("us"))
        if fast is not None:
            return Parsed(fast, _none_bad(s))
    regex = _ISO_TS if fmt is None else date_layout(fmt).regex
    micros, ok = _compose(s, regex)
    return Parsed(pc.cast(micros, pa.timestamp("us")), _bad(ok))


def date_example(fmt: str | None, with_time: bool = False) -> str:
    """How a value of the given layout looks, for error messages."""
    if fmt is None:
        return "2024-01-31 13:45:00" if with_time else "2024-01-31"
    return date_layout(fmt).example


def choose_date_format(s: pa.Array) -> str:
    """The layout of a declared date column: the one reading most values, ISO on a tie.

    Raises InvalidInput when day-first and month-first read the column equally well.
    """
    values = s.drop_null()
    if len(values) == 0 or not pc.any(parse_date(values).bad).as_py():
        return DATE_FORMATS[0]
    sample = values.slice(0, 10_000)
    scores: list[tuple[int, str]] = []
    for fmt in DATE_FORMATS:
        read = len(sample) - pc.sum(parse_date(sample, fmt).bad).as_py()
        scores.append((read, fmt))
    top = max(n for n, _ in scores)
    winners = [f for n, f in scores if n == top]
    if DATE_FORMATS[0] in winners or top == 0:
        return DATE_FORMATS[0]
    if len(winners) > 1:
        raise InvalidInput(
            f"dates could be read as {' or '.join(winners)}; set the format in the mapping"
        )
    return winners[0]


# ------------------------------------------------------------------------ detection


@dataclass(frozen=True)
class Detected:
    """The type found for a column, with the date layout when it matters and a remark."""

    type: FieldType
    format: str | None = None
    note: str = ""


def _all(check: pa.Array) -> bool:
    return not pc.any(check).as_py()


def _parse_as(s: pa.Array, test: str, fmt: str | None = None) -> Parsed:
    if test == "int":
        return parse_int(s)
    if test == "float":
        return parse_float(s)
    if test == "date":
        return parse_date(s, fmt or DATE_FORMATS[0])
    return parse_timestamp(s)


def detect_type(s: pa.Array) -> tuple[Detected, Parsed | None]:
    """The narrowest type every non-null value of a (cleaned) string column fits.

    Order: int, float, bool, date, timestamp, category, text. A column of only 0 and 1
    is int (say ``type: bool`` in the mapping for a flag); numbers with a leading zero
    (``007``, ``0612``) are codes, not numbers, and stay text or category. Returns the
    parsed column too when detection had to parse it whole, so it is not parsed twice.
    """
    values = s.drop_null() if s.null_count else s
    if len(values) == 0:
        return Detected(FieldType.TEXT, note="no values"), None
    head = values.slice(0, _SAMPLE_VALUES)

    def fits(test: str, fmt: str | None = None) -> Parsed | None:
        # The sample rules most candidates out cheaply; the survivor is parsed in full.
        if not _all(_parse_as(head, test, fmt).bad):
            return None
        if test in ("int", "float") and not _all(pc.match_substring_regex(values, _LEADING_ZERO)):
            return None
        parsed = _parse_as(s, test, fmt)
        return parsed if _all(parsed.bad) else None

    for test, ftype in (("int", FieldType.INT), ("float", FieldType.FLOAT)):
        parsed = fits(test)
        if parsed is not None:
            return Detected(ftype), parsed
    # Counting distinct values of a million unique strings is slow; the sample shows
    # cheaply when there are too many for a bool or a category.
    few = pc.count_distinct(head).as_py() <= CATEGORY_MAX_DISTINCT
    distinct = pc.count_distinct(values).as_py() if few else CATEGORY_MAX_DISTINCT + 1
    if distinct <= 6:  # yes/Yes/YES and no/No/NO are still two values
        low = set(pc.unique(pc.utf8_lower(values)).to_pylist())
        for family in BOOL_FAMILIES:
            if low <= set(family):
                return Detected(FieldType.BOOL, note=f"{family[0]}/{family[1]}"), None
    dates: list[tuple[str, Parsed]] = []
    for fmt in DATE_FORMATS:
        parsed = fits("date", fmt)
        if parsed is not None:
            dates.append((fmt, parsed))
            if fmt == DATE_FORMATS[0]:
                break  # ISO cannot be read any other way
    if len(dates) == 1:
        fmt, parsed = dates[0]
        note = "" if fmt == DATE_FORMATS[0] else f"format {fmt}"
        return Detected(FieldType.DATE, format=fmt, note=note), parsed
    ambiguous = ""
    if dates:
        formats = " or ".join(f for f, _p in dates)
        ambiguous = f"dates could be {formats}: set type and format in the mapping"
    else:
        parsed = fits("timestamp")
        if parsed is not None:
            return Detected(FieldType.TIMESTAMP), parsed
    if (
        distinct <= CATEGORY_MAX_DISTINCT
        and len(values) >= CATEGORY_MIN_REPEAT * distinct
        and (pc.max(pc.utf8_length(values)).as_py() or 0) <= CATEGORY_MAX_LENGTH
    ):
        return Detected(FieldType.CATEGORY, note=ambiguous or f"{distinct} values"), None
    return Detected(FieldType.TEXT, note=ambiguous), None


def arrow_field_type(t: pa.DataType) -> FieldType | None:
    """The field type a typed (Parquet) column maps to; None for strings (detected later)."""
    if pa.types.is_boolean(t):
        return FieldType.BOOL
    if pa.types.is_integer(t):
        return FieldType.INT
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return FieldType.FLOAT
    if pa.types.is_date(t):
        return FieldType.DATE
    if pa.types.is_timestamp(t):
        return FieldType.TIMESTAMP
    if pa.types.is_dictionary(t):
        return FieldType.CATEGORY
    return None
