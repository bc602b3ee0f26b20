"""Parser of the rule language: trees, precedence, positions and error messages."""

from __future__ import annotations

import pytest

from tactica.domain.rules import (
    Between,
    Binary,
    Call,
    In,
    IsNull,
    Like,
    Literal,
    Name,
    Not,
    TokenKind,
    Unary,
    parse,
    render,
    tokenize,
)
from tactica.domain.schema import FieldType
from tactica.errors import RuleError

INT, FLOAT, TEXT, BOOL = FieldType.INT, FieldType.FLOAT, FieldType.TEXT, FieldType.BOOL


def n(name: str) -> Name:
    return Name(name)


def i(value: int) -> Literal:
    return Literal(value, INT)


def error_of(source: str) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse(source)
    return info.value


# -- literals and names ----------------------------------------------------------------


def test_literals() -> None:
    assert parse("30") == i(30)
    assert parse("1.25") == Literal(1.25, FLOAT)
    assert parse("'north'") == Literal("north", TEXT)
    assert parse("'O''Brien'") == Literal("O'Brien", TEXT)
    assert parse("''") == Literal("", TEXT)
    assert parse("true") == Literal(True, BOOL)
    assert parse("FALSE") == Literal(False, BOOL)
    assert parse("Null") == Literal(None, None)


def test_int_and_float_literals_differ() -> None:
    assert parse("1") != parse("1.0")
    assert parse("1.0") == Literal(1.0, FLOAT)


def test_string_may_span_lines() -> None:
    assert parse("'a\nb'") == Literal("a\nb", TEXT)


def test_names_and_dotted_event_names() -> None:
    assert parse("age") == n("age")
    assert parse("event.amount") == n("event.amount")
    assert parse("_x1") == n("_x1")


def test_calls_lowercase_function_names() -> None:
    assert parse("DAYS_SINCE(last_purchase)") == Call("days_since", (n("last_purchase"),))
    assert parse("today()") == Call("today", ())
    assert parse("coalesce(a, b, 1)") == Call("coalesce", (n("a"), n("b"), i(1)))


def test_comments_are_ignored() -> None:
    assert parse("age > 30 -- older customers\n") == Binary(">", n("age"), i(30))


# -- operators and precedence ----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "op"),
    [("a = 1", "="), ("a == 1", "="), ("a != 1", "!="), ("a <> 1", "!="), ("a <= 1", "<=")],
)
def test_equality_spellings(source: str, op: str) -> None:
    assert parse(source) == Binary(op, n("a"), i(1))


def test_or_binds_looser_than_and() -> None:
    assert parse("a or b and c") == Binary("or", n("a"), Binary("and", n("b"), n("c")))
    assert parse("a and b or c") == Binary("or", Binary("and", n("a"), n("b")), n("c"))


def test_not_binds_looser_than_comparison() -> None:
    assert parse("not a = 1") == Not(Binary("=", n("a"), i(1)))
    assert parse("not a and b") == Binary("and", Not(n("a")), n("b"))
    assert parse("not not a") == Not(Not(n("a")))


def test_arithmetic_precedence_and_associativity() -> None:
    assert parse("a + b * c") == Binary("+", n("a"), Binary("*", n("b"), n("c")))
    assert parse("a - b - c") == Binary("-", Binary("-", n("a"), n("b")), n("c"))
    assert parse("a / b % c") == Binary("%", Binary("/", n("a"), n("b")), n("c"))
    assert parse("(a + b) * c") == Binary("*", Binary("+", n("a"), n("b")), n("c"))


def test_unary_minus_binds_tightest() -> None:
    assert parse("-a * b") == Binary("*", Unary("-", n("a")), n("b"))
    assert parse("- -a") == Unary("-", Unary("-", n("a")))
    assert parse("a - -1") == Binary("-", n("a"), Unary("-", i(1)))


def test_comparison_binds_looser_than_arithmetic() -> None:
    assert parse("a + 1 > b * 2") == Binary(
        ">", Binary("+", n("a"), i(1)), Binary("*", n("b"), i(2))
    )


def test_in_between_like_is() -> None:
    assert parse("r in ('n', 'e')") == In(n("r"), (Literal("n", TEXT), Literal("e", TEXT)))
    assert parse("r NOT IN (1)") == In(n("r"), (i(1),), negated=True)
    assert parse("a between 1 and 2") == Between(n("a"), i(1), i(2))
    assert parse("a not between 1 and 2") == Between(n("a"), i(1), i(2), negated=True)
    assert parse("j like 'x%'") == Like(n("j"), Literal("x%", TEXT))
    assert parse("j not like 'x%'") == Like(n("j"), Literal("x%", TEXT), negated=True)
    assert parse("p is null") == IsNull(n("p"))
    assert parse("p is not null") == IsNull(n("p"), negated=True)


def test_between_and_is_not_the_logical_and() -> None:
    assert parse("a between 1 and 2 and b") == Binary("and", Between(n("a"), i(1), i(2)), n("b"))
    assert parse("a between b + 1 and c * 2") == Between(
        n("a"), Binary("+", n("b"), i(1)), Binary("*", n("c"), i(2))
    )


def test_in_items_are_full_expressions() -> None:
    assert parse("a in (b + 1, c or d)") == In(
        n("a"), (Binary("+", n("b"), i(1)), Binary("or", n("c"), n("d")))
    )


def test_keywords_are_case_insensitive() -> None:
    lower = parse("a > 1 and not b is null or c in (1) and d between 1 and 2 and e like 'x'")
    mixed = parse("a > 1 AnD NOT b IS NuLl Or c In (1) AND d BETWEEN 1 aNd 2 and e LIKE 'x'")
    assert lower == mixed


def test_names_keep_their_case() -> None:
    assert parse("Age") == n("Age")


# -- positions -------------------------------------------------------------------------


def test_node_positions() -> None:
    tree = parse("age >= 30 and\n  region in ('n')")
    assert isinstance(tree, Binary)
    assert tree.pos == (1, 11)
    assert isinstance(tree.left, Binary)
    assert tree.left.pos == (1, 5)
    assert tree.left.left.pos == (1, 1)
    assert tree.left.right.pos == (1, 8)
    assert isinstance(tree.right, In)
    assert tree.right.pos == (2, 10)
    assert tree.right.expr.pos == (2, 3)
    assert tree.right.items[0].pos == (2, 14)


def test_token_positions() -> None:
    tokens = tokenize("a\n  <= 'x'")
    assert [(t.kind, t.line, t.col) for t in tokens] == [
        (TokenKind.NAME, 1, 1),
        (TokenKind.OP, 2, 3),
        (TokenKind.STRING, 2, 6),
        (TokenKind.EOF, 2, 9),
    ]


def test_positions_do_not_take_part_in_equality() -> None:
    assert parse("a>1") == parse("  a  >  1")


# -- errors ----------------------------------------------------------------------------


def test_unknown_character() -> None:
    err = error_of("age $ 3")
    assert len(err.problems) == 1
    p = err.problems[0]
    assert (p.line, p.col, p.message) == (1, 5, "unknown character '$'")
    assert p.snippet == "age $ 3\n    ^"


def test_every_unknown_character_is_reported() -> None:
    err = error_of("a $ b\n# c @")
    assert [(p.line, p.col) for p in err.problems] == [(1, 3), (2, 1), (2, 5)]
    assert err.line == 1 and err.col == 3


def test_hint_for_double_quotes() -> None:
    err = error_of('region = "north"')
    assert "single quotes" in err.problems[0].message


def test_unterminated_string() -> None:
    err = error_of("job = 'tech")
    p = err.problems[0]
    assert (p.line, p.col) == (1, 7)
    assert "closing '" in p.message


def test_unclosed_parenthesis() -> None:
    err = error_of("a and (b or c")
    p = err.problems[0]
    assert p.message == "expected ')' to close '(' opened at line 1, col 7"
    assert (p.line, p.col) == (1, 14)
    assert p.snippet == "a and (b or c\n             ^"


def test_unclosed_call_and_in_list() -> None:
    assert "opened at line 1, col 8" in error_of("on_list('vip' and a").problems[0].message
    assert "opened at line 1, col 6" in error_of("r in ('a', 'b'").problems[0].message


def test_unexpected_end() -> None:
    p = error_of("age >").problems[0]
    assert p.message == "unexpected end of rule, expected an expression"
    assert (p.line, p.col) == (1, 6)


def test_empty_rule() -> None:
    p = error_of("   ").problems[0]
    assert p.message == "unexpected end of rule, expected an expression"


def test_unexpected_token() -> None:
    p = error_of("age > and 3").problems[0]
    assert p.message == "unexpected 'and', expected an expression"
    assert (p.line, p.col) == (1, 7)


def test_trailing_garbage() -> None:
    p = error_of("age > 3 4").problems[0]
    assert p.message.startswith("unexpected '4', expected an operator")
    assert (p.line, p.col) == (1, 9)


def test_stray_closing_parenthesis() -> None:
    p = error_of("age > 3)").problems[0]
    assert "no '(' is open" in p.message


def test_multi_line_error_position_and_snippet() -> None:
    source = "age >= 30\n  and (region = 'north'\n    or job like)"
    p = error_of(source).problems[0]
    assert (p.line, p.col) == (3, 16)
    assert p.message == "unexpected ')', expected an expression"
    assert p.snippet == "    or job like)\n               ^"
    assert p.render().startswith("line 3, col 16: unexpected ')'")


def test_caret_keeps_tabs() -> None:
    p = error_of("\tage $").problems[0]
    assert p.snippet == "\tage $\n\t    ^"


def test_comparisons_do_not_chain() -> None:
    p = error_of("1 < age < 9").problems[0]
    assert "cannot be chained" in p.message
    assert (p.line, p.col) == (1, 9)


def test_not_must_precede_in_between_like() -> None:
    p = error_of("a not 3").problems[0]
    assert "expected 'in', 'between' or 'like' after 'not'" in p.message


def test_in_needs_parenthesised_values() -> None:
    assert "expected '(' after 'in'" in error_of("a in 'x'").problems[0].message
    assert "at least one value" in error_of("a in ()").problems[0].message


def test_between_needs_and() -> None:
    p = error_of("a between 1 or 2").problems[0]
    assert p.message == "unexpected 'or', expected 'and' of 'between ... and ...'"


def test_is_needs_null() -> None:
    assert "'null' after 'is'" in error_of("a is 3").problems[0].message


def test_bad_number() -> None:
    p = error_of("1.x").problems[0]
    assert p.message == "expected a digit after '.' in number '1.'"
    assert (p.line, p.col) == (1, 3)


def test_nesting_limits() -> None:
    assert "nested too deeply" in error_of("(" * 100 + "a" + ")" * 100).problems[0].message
    assert "nested too deeply" in error_of(" + ".join(["a"] * 200)).problems[0].message
    # Long and/or chains are cheap and allowed.
    parse(" or ".join(["a = 1"] * 200))


def test_error_to_dict() -> None:
    d = error_of("a $").to_dict()
    assert d["error"] == "rule_error"
    assert d["problems"] == [{"message": "unknown character '$'", "line": 1, "col": 3}]


# -- rendering -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "age >= 30 and region in ('north', 'east') and not on_list('vip')",
        "days_since(last_purchase) between 7 and 30 or (balance * 1.1 > 1000 and job like 'tech%')",
        "pdays is null and in_segment('young_savers')",
        "0.5 * previous + duration / 60",
        "a - (b - c)",
        "(a or b) and c",
        "not (a and b)",
        "-(-a)",
        "a = (b > 1)",
        "job = 'O''Brien'",
        "a not between -1 and 2 + 3",
    ],
)
def test_render_round_trip(source: str) -> None:
    tree = parse(source)
    assert parse(render(tree)) == tree


def test_render_is_minimal() -> None:
    assert render(parse("((a + b)) * c")) == "(a + b) * c"
    assert render(parse("a + (b * c)")) == "a + b * c"
    assert render(parse("(a = 1) or (b = 2)")) == "a = 1 or b = 2"
    assert render(parse("- - a")) == "-(-a)"
    assert render(parse("1.50")) == "1.5"


def test_numbers_beyond_64_bits_are_refused_where_they_stand() -> None:
    from tactica.domain.rules import parse as parse_rule
    from tactica.errors import RuleError as Err

    assert parse_rule("x > 999999999999999999") is not None
    with pytest.raises(Err) as err:
        parse_rule("x > 1" + "0" * 5000)
    assert parse_rule("0" * 5000 + "7 > x") is not None
    assert (err.value.line, err.value.col) == (1, 5)
    assert "number too large" in str(err.value)
