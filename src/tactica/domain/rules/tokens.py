"""Tokenizer of the rule language: source text to tokens with 1-based line and column.

The tokenizer is deliberately small and strict: it knows numbers (``30``, ``1.5``),
single-quoted strings with ``''`` as the escaped quote, names (``age``, ``event.amount``),
keywords (case-insensitive), operators and punctuation. ``--`` starts a comment that runs
to the end of the line. Every character it does not understand becomes a problem; all of
them are reported together.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tactica.errors import RuleError, RuleProblem


class TokenKind(StrEnum):
    """What a token is."""

    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    KEYWORD = "keyword"
    OP = "op"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    EOF = "end of rule"


#: Longest whole part a number may have: 18 digits always fit a signed 64-bit integer.
MAX_WHOLE_DIGITS = 18

#: Words with a meaning in the language; matched case-insensitively.
KEYWORDS = frozenset({"and", "or", "not", "in", "between", "like", "is", "null", "true", "false"})

# Two-character operators first so that ``<=`` is not read as ``<`` then ``=``.
_OPERATORS_2 = {"==": "=", "!=": "!=", "<>": "!=", "<=": "<=", ">=": ">="}
_OPERATORS_1 = {"=": "=", "<": "<", ">": ">", "+": "+", "-": "-", "*": "*", "/": "/", "%": "%"}

# Hints for characters people often type by habit from other languages.
_HINTS = {
    '"': "; text values use single quotes, e.g. 'north'",
    "‘": "; use straight single quotes ' around text",
    "’": "; use straight single quotes ' around text",
    "“": "; use straight single quotes ' around text",
    "”": "; use straight single quotes ' around text",
    "!": "; use 'not' for negation or '!=' for not-equal",
    "&": "; use 'and'",
    "|": "; use 'or'",
}


@dataclass(frozen=True)
class Token:
    """One token: its kind, the text as written, a normalised value, and where it starts.

    ``value`` is the int/float of a number, the content of a string (quotes removed,
    ``''`` unescaped), the lower-case word of a keyword, the canonical operator
    (``==`` becomes ``=``, ``<>`` becomes ``!=``) or the name as written.
    """

    kind: TokenKind
    text: str
    value: int | float | str | None
    line: int
    col: int

    def describe(self) -> str:
        """How to name the token in a message: ``'and'``, ``')'`` or ``end of rule``."""
        if self.kind is TokenKind.EOF:
            return "end of rule"
        return f"'{self.text}'"


def source_line(source: str, line: int) -> str:
    """The text of the 1-based ``line`` of ``source`` (empty when out of range)."""
    lines = source.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1].rstrip("\r")
    return ""


def snippet(source: str, line: int, col: int) -> str:
    """The source line followed by a caret line pointing at ``col``.

    Tabs before the column are kept in the caret line so that the caret lines up in a
    terminal whatever its tab width.
    """
    text = source_line(source, line)
    prefix = "".join("\t" if ch == "\t" else " " for ch in text[: max(col - 1, 0)])
    prefix += " " * max(col - 1 - len(text), 0)
    return f"{text}\n{prefix}^"


def problem(source: str, message: str, line: int, col: int) -> RuleProblem:
    """A :class:`RuleProblem` at ``line``/``col`` with the caret snippet from ``source``."""
    return RuleProblem(message, line, col, snippet(source, line, col))


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or ("0" <= ch <= "9")


def _is_digit(ch: str) -> bool:
    # ASCII only: str.isdigit() would accept other scripts' digits that int() reads.
    return "0" <= ch <= "9"


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, ending with an EOF token.

    Raises :class:`RuleError` listing every lexical problem (unknown characters,
    unterminated strings, malformed numbers) when there is any.
    """
    tokens: list[Token] = []
    problems: list[RuleProblem] = []
    i, line, col = 0, 1, 1
    n = len(source)

    def advance(count: int) -> None:
        # Move ``count`` characters forward, keeping line/col in step (strings may span lines).
        nonlocal i, line, col
        for _ in range(count):
            if source[i] == "\n":
                line += 1
                col = 1
            else:
                col += 1
            i += 1

    while i < n:
        ch = source[i]
        start_line, start_col = line, col
        if ch.isspace():
            advance(1)
        elif ch == "-" and source.startswith("--", i):
            while i < n and source[i] != "\n":
                advance(1)
        elif _is_digit(ch):
            j = i
            while j < n and _is_digit(source[j]):
                j += 1
            is_float = False
            if j < n and source[j] == ".":
                if j + 1 < n and _is_digit(source[j + 1]):
                    is_float = True
                    j += 1
                    while j < n and _is_digit(source[j]):
                        j += 1
                else:
                    problems.append(
                        problem(
                            source,
                            f"expected a digit after '.' in number '{source[i : j + 1]}'",
                            start_line,
                            start_col + (j - i) + 1,
                        )
                    )
                    j += 1
                    advance(j - i)
                    continue
            text = source[i:j]
            whole = text.split(".")[0].lstrip("0")
            if len(whole) > MAX_WHOLE_DIGITS:
                # Beyond 64-bit integers every backend disagrees (overflow, error, float).
                problems.append(
                    problem(
                        source,
                        f"number too large: at most {MAX_WHOLE_DIGITS} digits before the "
                        "decimal point",
                        start_line,
                        start_col,
                    )
                )
                advance(j - i)
                continue
            # Leading zeros are harmless but int() refuses very long strings of them.
            value: int | float = float(text) if is_float else int(whole or "0")
            tokens.append(Token(TokenKind.NUMBER, text, value, start_line, start_col))
            advance(j - i)
        elif _is_name_start(ch):
            j = i
            while j < n and _is_name_char(source[j]):
                j += 1
            # Dotted names (event.amount): a '.' directly followed by another name part.
            while j + 1 < n and source[j] == "." and _is_name_start(source[j + 1]):
                j += 1
                while j < n and _is_name_char(source[j]):
                    j += 1
            text = source[i:j]
            lower = text.lower()
            if lower in KEYWORDS:
                tokens.append(Token(TokenKind.KEYWORD, text, lower, start_line, start_col))
            else:
                tokens.append(Token(TokenKind.NAME, text, text, start_line, start_col))
            advance(j - i)
        elif ch == "'":
            j = i + 1
            parts: list[str] = []
            closed = False
            while j < n:
                if source[j] == "'":
                    if j + 1 < n and source[j + 1] == "'":
                        parts.append("'")
                        j += 2
                        continue
                    closed = True
                    j += 1
                    break
                parts.append(source[j])
                j += 1
            if not closed:
                problems.append(
                    problem(
                        source,
                        "unterminated text: a closing ' is missing "
                        f"for the text started at line {start_line}, col {start_col}",
                        start_line,
                        start_col,
                    )
                )
                advance(n - i)
                continue
            text = source[i:j]
            tokens.append(Token(TokenKind.STRING, text, "".join(parts), start_line, start_col))
            advance(j - i)
        elif source[i : i + 2] in _OPERATORS_2:
            text = source[i : i + 2]
            tokens.append(Token(TokenKind.OP, text, _OPERATORS_2[text], start_line, start_col))
            advance(2)
        elif ch in _OPERATORS_1:
            tokens.append(Token(TokenKind.OP, ch, _OPERATORS_1[ch], start_line, start_col))
            advance(1)
        elif ch == "(":
            tokens.append(Token(TokenKind.LPAREN, ch, ch, start_line, start_col))
            advance(1)
        elif ch == ")":
            tokens.append(Token(TokenKind.RPAREN, ch, ch, start_line, start_col))
            advance(1)
        elif ch == ",":
            tokens.append(Token(TokenKind.COMMA, ch, ch, start_line, start_col))
            advance(1)
        else:
            shown = ch if ch.isprintable() else repr(ch)[1:-1]
            message = f"unknown character '{shown}'{_HINTS.get(ch, '')}"
            problems.append(problem(source, message, start_line, start_col))
            advance(1)
    if problems:
        raise RuleError(problems, source)
    tokens.append(Token(TokenKind.EOF, "", None, line, col))
    return tokens
