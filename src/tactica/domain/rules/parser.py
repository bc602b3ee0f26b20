"""Hand-written recursive-descent parser of the rule language.

Grammar, loosest binding first (keywords are case-insensitive)::

    rule       := or_expr EOF
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := additive [ cmp_op additive
                           | ["not"] "in" "(" or_expr ("," or_expr)* ")"
                           | ["not"] "between" additive "and" additive
                           | ["not"] "like" additive
                           | "is" ["not"] "null" ]
    additive   := term (("+" | "-") term)*
    term       := unary (("*" | "/" | "%") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | "true" | "false" | "null"
                | NAME "(" [or_expr ("," or_expr)*] ")" | NAME | "(" or_expr ")"

Comparisons do not chain (``a < b < c`` is an error, not ``(a < b) < c``). User input is
never evaluated: the parser only builds :mod:`tactica.domain.rules.ast` nodes. Parsing
stops at the first syntax error; lexical errors are all reported together.
"""

from __future__ import annotations

from tactica.domain.schema import FieldType
from tactica.errors import RuleError

from .ast import (
    MAX_COST,
    Between,
    Binary,
    Call,
    Expr,
    In,
    IsNull,
    Like,
    Literal,
    Name,
    Not,
    Unary,
    nesting_cost,
)
from .tokens import Token, TokenKind, problem, tokenize

#: Deepest nesting of parentheses / prefix operators accepted (keeps recursion bounded).
MAX_NESTING = 60

_COMPARISON = frozenset({"=", "!=", "<", "<=", ">", ">="})


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0
        self.nesting = 0

    # -- token helpers -------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def at(self, kind: TokenKind) -> bool:
        # A method rather than ``self.tok.kind is ...`` so that type narrowing does not
        # survive ``advance()``.
        return self.tok.kind is kind

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind is not TokenKind.EOF:
            self.i += 1
        return tok

    def is_keyword(self, word: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind is TokenKind.KEYWORD and tok.value == word

    def is_op(self, *ops: str) -> bool:
        return self.at(TokenKind.OP) and self.tok.value in ops

    def fail(self, message: str, tok: Token | None = None) -> RuleError:
        tok = tok or self.tok
        return RuleError([problem(self.source, message, tok.line, tok.col)], self.source)

    def unexpected(self, expected: str) -> RuleError:
        if self.at(TokenKind.EOF):
            return self.fail(f"unexpected end of rule, expected {expected}")
        return self.fail(f"unexpected {self.tok.describe()}, expected {expected}")

    def close_paren(self, opener: Token) -> None:
        if not self.at(TokenKind.RPAREN):
            raise self.fail(
                f"expected ')' to close '(' opened at line {opener.line}, col {opener.col}"
            )
        self.advance()

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.fail(f"rule is nested too deeply (more than {MAX_NESTING} levels)")

    # -- grammar -------------------------------------------------------------------

    def parse_rule(self) -> Expr:
        if self.at(TokenKind.EOF):
            raise self.fail("unexpected end of rule, expected an expression")
        expr = self.parse_or()
        if self.at(TokenKind.RPAREN):
            raise self.fail("unexpected ')': no '(' is open")
        if not self.at(TokenKind.EOF):
            raise self.unexpected("an operator (and, or, =, +, ...) or the end of the rule")
        return expr

    def parse_or(self) -> Expr:
        left = self.parse_and()
        while self.is_keyword("or"):
            op = self.advance()
            right = self.parse_and()
            left = Binary("or", left, right, (op.line, op.col))
        return left

    def parse_and(self) -> Expr:
        left = self.parse_not()
        while self.is_keyword("and"):
            op = self.advance()
            right = self.parse_not()
            left = Binary("and", left, right, (op.line, op.col))
        return left

    def parse_not(self) -> Expr:
        if self.is_keyword("not"):
            op = self.advance()
            self.enter()
            operand = self.parse_not()
            self.nesting -= 1
            return Not(operand, (op.line, op.col))
        return self.parse_comparison()

    def parse_comparison(self) -> Expr:
        left = self.parse_additive()
        result = self.parse_comparison_tail(left)
        if result is left:
            return left
        # Comparisons do not chain: 'a < b < c' almost always means 'a < b and b < c'.
        if (
            self.is_op(*_COMPARISON)
            or any(self.is_keyword(w) for w in ("in", "between", "like", "is"))
            or (
                self.is_keyword("not")
                and any(self.is_keyword(w, self.peek()) for w in ("in", "between", "like"))
            )
        ):
            raise self.fail(
                f"unexpected {self.tok.describe()}: comparisons cannot be chained; "
                "combine them with 'and'"
            )
        return result

    def parse_comparison_tail(self, left: Expr) -> Expr:
        tok = self.tok
        if self.is_op(*_COMPARISON):
            self.advance()
            right = self.parse_additive()
            return Binary(str(tok.value), left, right, (tok.line, tok.col))
        negated = False
        if self.is_keyword("not"):
            after = self.peek()
            if not any(self.is_keyword(w, after) for w in ("in", "between", "like")):
                raise self.fail(
                    "expected 'in', 'between' or 'like' after 'not' here "
                    "(to negate a condition write 'not' before it)",
                    after,
                )
            self.advance()
            negated = True
        pos = (tok.line, tok.col)
        if self.is_keyword("in"):
            self.advance()
            if not self.at(TokenKind.LPAREN):
                raise self.fail("expected '(' after 'in', e.g. region in ('north', 'east')")
            opener = self.advance()
            if self.at(TokenKind.RPAREN):
                raise self.fail("expected at least one value in the 'in' list")
            self.enter()
            items = [self.parse_or()]
            while self.at(TokenKind.COMMA):
                self.advance()
                items.append(self.parse_or())
            self.nesting -= 1
            self.close_paren(opener)
            return In(left, tuple(items), negated, pos)
        if self.is_keyword("between"):
            self.advance()
            low = self.parse_additive()
            if not self.is_keyword("and"):
                raise self.unexpected("'and' of 'between ... and ...'")
            self.advance()
            high = self.parse_additive()
            return Between(left, low, high, negated, pos)
        if self.is_keyword("like"):
            self.advance()
            pattern = self.parse_additive()
            return Like(left, pattern, negated, pos)
        if self.is_keyword("is"):
            self.advance()
            is_not = False
            if self.is_keyword("not"):
                self.advance()
                is_not = True
            if not self.is_keyword("null"):
                raise self.unexpected("'null' after 'is' (write 'is null' or 'is not null')")
            self.advance()
            return IsNull(left, is_not, pos)
        return left

    def parse_additive(self) -> Expr:
        left = self.parse_term()
        while self.is_op("+", "-"):
            op = self.advance()
            right = self.parse_term()
            left = Binary(str(op.value), left, right, (op.line, op.col))
        return left

    def parse_term(self) -> Expr:
        left = self.parse_unary()
        while self.is_op("*", "/", "%"):
            op = self.advance()
            right = self.parse_unary()
            left = Binary(str(op.value), left, right, (op.line, op.col))
        return left

    def parse_unary(self) -> Expr:
        if self.is_op("-"):
            op = self.advance()
            self.enter()
            operand = self.parse_unary()
            self.nesting -= 1
            return Unary("-", operand, (op.line, op.col))
        return self.parse_primary()

    def parse_primary(self) -> Expr:
        tok = self.tok
        pos = (tok.line, tok.col)
        if tok.kind is TokenKind.NUMBER:
            self.advance()
            kind = FieldType.FLOAT if isinstance(tok.value, float) else FieldType.INT
            return Literal(tok.value, kind, pos)
        if tok.kind is TokenKind.STRING:
            self.advance()
            return Literal(tok.value, FieldType.TEXT, pos)
        if tok.kind is TokenKind.KEYWORD and tok.value in ("true", "false"):
            self.advance()
            return Literal(tok.value == "true", FieldType.BOOL, pos)
        if self.is_keyword("null"):
            self.advance()
            return Literal(None, None, pos)
        if tok.kind is TokenKind.NAME:
            self.advance()
            if self.at(TokenKind.LPAREN):
                return self.parse_call(tok)
            return Name(str(tok.value), pos)
        if tok.kind is TokenKind.LPAREN:
            opener = self.advance()
            self.enter()
            inner = self.parse_or()
            self.nesting -= 1
            self.close_paren(opener)
            return inner
        raise self.unexpected("an expression")

    def parse_call(self, name: Token) -> Expr:
        opener = self.advance()
        self.enter()
        args: list[Expr] = []
        if not self.at(TokenKind.RPAREN):
            args.append(self.parse_or())
            while self.at(TokenKind.COMMA):
                self.advance()
                args.append(self.parse_or())
        self.nesting -= 1
        self.close_paren(opener)
        return Call(str(name.value).lower(), tuple(args), (name.line, name.col))


def parse(source: str) -> Expr:
    """Parse rule ``source`` into a syntax tree.

    Raises :class:`RuleError` with line, column, message and caret snippet: every lexical
    problem at once, otherwise the first syntax error.
    """
    parser = _Parser(source)
    expr = parser.parse_rule()
    if nesting_cost(expr) > MAX_COST:
        message = "rule is nested too deeply; split it or use fewer nested operations"
        raise RuleError([problem(source, message, 1, 1)], source)
    return expr
