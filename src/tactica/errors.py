"""Errors Tactica raises, and how each one is shown to people.

Hierarchy::

    TacticaError
    ├── NotFound            a named thing does not exist            (HTTP 404, exit 4)
    ├── Conflict            it exists already / illegal state       (HTTP 409, exit 5)
    ├── InvalidInput        bad input, with where and what          (HTTP 422, exit 2)
    │   ├── RuleError       a rule does not parse or type-check     (line, col, snippet)
    │   ├── ImportRejected  a file has rows that cannot land        (file, row, column, value)
    │   └── MalformedRequest  a machine sent what no reading fits   (HTTP 400)
    ├── AuthenticationFailed  who you are is not proven             (HTTP 401, exit 6)
    └── PermissionDenied    your role may not do this               (HTTP 403, exit 7)

Every error carries a stable ``code`` (used as ``{"error": code}`` in the API)
and a human ``detail``. Entry points map classes to statuses through
:data:`HTTP_STATUS` and :data:`EXIT_CODE`; nothing else decides that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class TacticaError(Exception):
    """Root of every error Tactica raises on purpose."""

    code = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by the API: ``{"error": code, "detail": ...}``."""
        return {"error": self.code, "detail": self.detail}


class NotFound(TacticaError):
    """A named object (customer, segment, offer, list, user...) does not exist."""

    code = "not_found"


class Conflict(TacticaError):
    """The object exists already, or the change is not legal in its current state."""

    code = "conflict"


class InvalidInput(TacticaError):
    """Input that cannot be accepted; ``where`` names the field or place."""

    code = "invalid_input"

    def __init__(self, detail: str, where: str | None = None) -> None:
        super().__init__(f"{where}: {detail}" if where else detail)
        self.where = where

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with the place of the error when known."""
        out = super().to_dict()
        if self.where:
            out["where"] = self.where
        return out


@dataclass(frozen=True)
class RuleProblem:
    """One problem found in a rule: 1-based line and column, and what was expected."""

    message: str
    line: int
    col: int
    snippet: str = ""

    def render(self) -> str:
        """Human form: ``line 1, col 5: message`` followed by the caret snippet."""
        head = f"line {self.line}, col {self.col}: {self.message}"
        return f"{head}\n{self.snippet}" if self.snippet else head


class RuleError(InvalidInput):
    """A rule that does not parse or does not type-check; lists every problem found."""

    code = "rule_error"

    def __init__(self, problems: list[RuleProblem], source: str = "") -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(p.render() for p in problems))

    @property
    def line(self) -> int:
        """Line of the first problem."""
        return self.problems[0].line

    @property
    def col(self) -> int:
        """Column of the first problem."""
        return self.problems[0].col

    def to_dict(self) -> dict[str, Any]:
        """JSON form with each problem's position."""
        out = super().to_dict()
        out["problems"] = [
            {"message": p.message, "line": p.line, "col": p.col} for p in self.problems
        ]
        return out


@dataclass(frozen=True)
class RowProblem:
    """One bad value in an input file."""

    file: str
    row: int
    column: str
    value: str
    expected: str

    def render(self) -> str:
        """Human form naming file, row, column, value and what was expected."""
        return (
            f"{self.file}, row {self.row}, column {self.column!r}: "
            f"value {self.value!r} is not {self.expected}"
        )


class ImportRejected(InvalidInput):
    """A file with rows that cannot land; nothing was written."""

    code = "import_rejected"

    def __init__(self, problems: list[RowProblem], total_bad_rows: int) -> None:
        self.problems = problems
        self.total_bad_rows = total_bad_rows
        shown = "\n".join(p.render() for p in problems[:20])
        more = total_bad_rows - min(len(problems), 20)
        tail = f"\n... and {more} more bad rows" if more > 0 else ""
        super().__init__(
            f"{total_bad_rows} row(s) cannot be imported; nothing was written "
            f"(use --rejects FILE to land the good rows):\n{shown}{tail}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form listing the first problems."""
        out = super().to_dict()
        out["problems"] = [p.__dict__ for p in self.problems[:100]]
        out["total_bad_rows"] = self.total_bad_rows
        return out


class AuthenticationFailed(TacticaError):
    """Missing or wrong credentials."""

    code = "unauthenticated"


class PermissionDenied(TacticaError):
    """The caller's role may not perform this action."""

    code = "forbidden"


class MalformedRequest(InvalidInput):
    """A peer (a gateway, a webhook) sent a body that cannot be read at all: HTTP 400."""

    code = "malformed"


HTTP_STATUS: dict[type[TacticaError], int] = {
    MalformedRequest: 400,
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    TacticaError: 400,
}

EXIT_CODE: dict[type[TacticaError], int] = {
    InvalidInput: 2,
    NotFound: 4,
    Conflict: 5,
    AuthenticationFailed: 6,
    PermissionDenied: 7,
    TacticaError: 1,
}


def _lookup(table: dict[type[TacticaError], int], err: TacticaError) -> int:
    for cls in type(err).__mro__:
        if cls in table:
            return table[cls]
    return table[TacticaError]


def http_status(err: TacticaError) -> int:
    """HTTP status for an error, by the most specific class in :data:`HTTP_STATUS`."""
    return _lookup(HTTP_STATUS, err)


def exit_code(err: TacticaError) -> int:
    """CLI exit code for an error, by the most specific class in :data:`EXIT_CODE`."""
    return _lookup(EXIT_CODE, err)
