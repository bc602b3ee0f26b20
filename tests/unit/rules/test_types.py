"""Type checker of the rule language: result types, problems with positions, suggestions."""

from __future__ import annotations

import datetime as dt

import pytest

from tactica.domain.rules import (
    Binary,
    Call,
    Literal,
    analyse,
    check,
    compile_rule,
    parse,
)
from tactica.domain.schema import FieldType
from tactica.errors import RuleError, RuleProblem

F = FieldType
FIELDS: dict[str, FieldType] = {
    "age": F.INT,
    "balance": F.FLOAT,
    "region": F.CATEGORY,
    "job": F.TEXT,
    "newsletter": F.BOOL,
    "last_purchase": F.DATE,
    "last_login": F.TIMESTAMP,
    "pdays": F.INT,
}
SEGMENTS = ["young_savers", "loyal"]
LISTS = ["vip", "blocked"]


def type_of(source: str, **kwargs: object) -> FieldType:
    return check(parse(source), FIELDS, source=source, **kwargs)  # type: ignore[arg-type]


def problems(source: str, **kwargs: object) -> list[RuleProblem]:
    with pytest.raises(RuleError) as info:
        check(parse(source), FIELDS, source=source, **kwargs)  # type: ignore[arg-type]
    return info.value.problems


def only(source: str, **kwargs: object) -> RuleProblem:
    found = problems(source, **kwargs)
    assert len(found) == 1, found
    return found[0]


# -- result types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("age", F.INT),
        ("age + 1", F.INT),
        ("age * 1.5", F.FLOAT),
        ("age / 2", F.FLOAT),
        ("age % 2", F.INT),
        ("balance % 2", F.FLOAT),
        ("-age", F.INT),
        ("region", F.CATEGORY),
        ("coalesce(region, region)", F.CATEGORY),
        ("coalesce(region, job)", F.TEXT),
        ("coalesce(age, 1.5)", F.FLOAT),
        ("coalesce(null, age)", F.INT),
        ("lower(region)", F.TEXT),
        ("length(job)", F.INT),
        ("abs(balance)", F.FLOAT),
        ("abs(null)", F.INT),
        ("today()", F.DATE),
        ("date(last_login)", F.DATE),
        ("date('2024-01-31')", F.DATE),
        ("days_since(last_login)", F.INT),
        ("days_until('2024-12-24')", F.INT),
        ("year(last_purchase) + month(last_login) + day(today())", F.INT),
        ("age > 1 and not newsletter or region in ('n') and job like 'x%'", F.BOOL),
        ("pdays is null", F.BOOL),
        ("null is null", F.BOOL),
        ("age = null", F.BOOL),
        ("newsletter = (age > 3)", F.BOOL),
        ("region = job", F.BOOL),
        ("age = balance", F.BOOL),
        ("last_purchase between '2024-01-01' and today()", F.BOOL),
        ("id = 'c01' and language = 'en' and timezone = 'UTC'", F.BOOL),
    ],
)
def test_types(source: str, expected: FieldType) -> None:
    assert type_of(source) is expected


# -- unknown names ---------------------------------------------------------------------


def test_unknown_attribute_suggests_and_lists_known_names() -> None:
    p = only("agee >= 30")
    assert p.message == (
        "unknown attribute 'agee' at line 1, col 1; did you mean 'age'? known attributes: "
        "age, balance, id, job, language, last_login, last_purchase, newsletter, pdays, "
        "region, timezone"
    )
    assert (p.line, p.col) == (1, 1)
    assert p.snippet == "agee >= 30\n^"


def test_unknown_attribute_without_close_match() -> None:
    p = only("age > 1 and\n  xyzzy = 2")
    assert p.message.startswith("unknown attribute 'xyzzy' at line 2, col 3; known attributes: ")
    assert (p.line, p.col) == (2, 3)


def test_unknown_attribute_case_insensitive_suggestion() -> None:
    assert "did you mean 'age'?" in only("AGE > 1").message


def test_function_name_used_as_attribute() -> None:
    assert "did you mean the function today()?" in only("last_purchase = today").message


def test_every_problem_is_reported_in_order() -> None:
    found = problems("agee > 1 and job + 1 > 2 and regio = 'x'")
    assert [(p.line, p.col) for p in found] == [(1, 1), (1, 14), (1, 30)]
    assert "unknown attribute 'agee'" in found[0].message
    assert found[1].message == "'+' needs numbers on both sides; its left side is text"
    assert "did you mean 'region'?" in found[2].message


def test_event_attributes() -> None:
    p = only("event.amount > 10")
    assert "only available in real-time triggers" in p.message
    assert type_of("event.amount > 10", event_fields={"amount": F.FLOAT}) is F.BOOL
    p = only("event.amout > 10", event_fields={"amount": F.FLOAT})
    assert "unknown event attribute 'event.amout'" in p.message
    assert "did you mean 'event.amount'?" in p.message


def test_unknown_function() -> None:
    p = only("lowr(job) = 'x'")
    assert p.message.startswith("unknown function 'lowr'; did you mean lower()? known functions:")
    assert (p.line, p.col) == (1, 1)


def test_unknown_segment_and_list() -> None:
    p = only("in_segment('young_saver')", segments=SEGMENTS, lists=LISTS)
    assert p.message == (
        "unknown segment 'young_saver'; did you mean 'young_savers'? "
        "known segments: loyal, young_savers"
    )
    assert (p.line, p.col) == (1, 12)
    p = only("on_list('vipp')", segments=SEGMENTS, lists=LISTS)
    assert p.message == "unknown list 'vipp'; did you mean 'vip'? known lists: blocked, vip"
    p = only("on_list('x')", lists=[])
    assert "no lists are defined" in p.message


def test_membership_names_unchecked_without_collections() -> None:
    assert type_of("in_segment('anything') and on_list('whatever')") is F.BOOL


def test_membership_needs_a_quoted_name() -> None:
    p = only("in_segment(region)")
    assert "in_segment() takes one segment name in quotes" in p.message
    assert "on_list() takes one list name in quotes" in only("on_list('a', 'b')").message


# -- type errors -----------------------------------------------------------------------


def test_compare_number_with_text() -> None:
    p = only("age > 'thirty'")
    assert p.message == "cannot compare an int with text"
    assert (p.line, p.col) == (1, 7)
    assert p.snippet == "age > 'thirty'\n      ^"


def test_compare_bool_with_number() -> None:
    assert only("newsletter = 1").message == "cannot compare a condition (bool) with an int"


def test_bools_only_compare_for_equality() -> None:
    p = only("newsletter < true")
    assert "'<' does not apply to conditions (bool)" in p.message


def test_date_and_timestamp_do_not_mix() -> None:
    p = only("last_purchase = last_login")
    assert p.message == (
        "cannot compare a date with a timestamp; use date(x) to take the date part of a timestamp"
    )
    assert type_of("last_purchase = date(last_login)") is F.BOOL


def test_bad_date_literal_is_reported_at_the_literal() -> None:
    p = only("age > 1 and last_purchase >= '2024-02-30'")
    assert p.message == "'2024-02-30' is not a valid date: expected 'YYYY-MM-DD'"
    assert (p.line, p.col) == (1, 30)


def test_bad_timestamp_literal() -> None:
    p = only("last_login in ('2024-01-01 10:00', 'yesterday')")
    assert "'yesterday' is not a valid timestamp" in p.message
    assert (p.line, p.col) == (1, 36)


def test_text_column_is_not_a_date() -> None:
    assert only("last_purchase = job").message == "cannot compare a date with text"


def test_arithmetic_needs_numbers() -> None:
    p = only("region * 2 > 1")
    assert p.message == "'*' needs numbers on both sides; its left side is a category"
    p = only("last_purchase - 1 > 0")
    assert "days_since()" in p.message


def test_unary_minus_needs_a_number() -> None:
    assert only("-job = 'x'").message == "'-' needs a number, got text"


def test_logic_needs_conditions() -> None:
    p = only("age and newsletter")
    assert p.message == "'and' needs conditions (bool) on both sides; its left side is an int"
    assert (p.line, p.col) == (1, 1)
    assert only("not job").message == "'not' needs a condition (bool), got text"


def test_like_needs_text() -> None:
    assert only("age like '3%'").message == "'like' needs text on its left, got an int"
    assert only("job like 3").message == "'like' needs a text pattern, got an int"


def test_in_list_values_must_match() -> None:
    p = only("age in (1, 'two', 3)")
    assert p.message == "cannot compare an int with text in the 'in' list"
    assert (p.line, p.col) == (1, 12)


def test_between_bounds_must_match() -> None:
    assert "in 'between'" in only("age between 1 and 'x'").message


def test_function_arity_and_argument_types() -> None:
    assert only("days_since() > 1").message == (
        "days_since() takes 1 argument (a date or timestamp), got 0"
    )
    assert (
        only("days_since(age) > 1").message == "days_since() needs a date or timestamp, got an int"
    )
    assert only("lower(age) = 'x'").message == "lower() needs text, got an int"
    assert only("abs(job) > 1").message == "abs() needs a number, got text"
    assert only("today(1) = today()").message == "today() takes 0 arguments, got 1"
    assert "coalesce() takes at least 2 arguments" in only("coalesce(age) > 1").message
    assert "coalesce() arguments must all have one type" in only("coalesce(age, job) > 1").message
    assert "date() takes a 'YYYY-MM-DD' text or a timestamp" in only("date(job) = today()").message
    assert "not a valid date" in only("date('2024-1-1') = today()").message


def test_always_null_rule() -> None:
    assert "always null" in only("null").message
    assert "always null" in only("coalesce(null, null)").message


# -- the checked tree ------------------------------------------------------------------


def test_string_literal_becomes_a_date() -> None:
    analysis = analyse(parse("last_purchase > '2024-01-31'"), FIELDS)
    tree = analysis.expr
    assert isinstance(tree, Binary)
    assert tree.right == Literal(dt.date(2024, 1, 31), F.DATE)
    assert analysis.type_of(tree.right) is F.DATE


def test_string_literal_becomes_a_timestamp() -> None:
    tree = analyse(parse("'2024-01-31 10:30' <= last_login"), FIELDS).expr
    assert isinstance(tree, Binary)
    assert tree.left == Literal(dt.datetime(2024, 1, 31, 10, 30), F.TIMESTAMP)


def test_null_takes_the_type_of_its_context() -> None:
    tree = analyse(parse("balance = null"), FIELDS).expr
    assert isinstance(tree, Binary)
    assert tree.right == Literal(None, F.FLOAT)
    tree = analyse(parse("abs(null) > 1"), FIELDS).expr
    assert isinstance(tree, Binary) and isinstance(tree.left, Call)
    assert tree.left.args[0] == Literal(None, F.INT)


def test_analysis_lists_what_the_rule_uses() -> None:
    analysis = analyse(
        parse("age > 1 and in_segment('loyal') or on_list('vip') and age < 9 and job = ''"),
        FIELDS,
    )
    assert analysis.fields == {"age", "job"}
    assert analysis.segments == {"loyal"}
    assert analysis.lists == {"vip"}


# -- compile_rule ----------------------------------------------------------------------


def test_compile_rule() -> None:
    rule = compile_rule(
        "pdays is null and in_segment('young_savers')", FIELDS, segments=SEGMENTS, lists=LISTS
    )
    assert rule.type is F.BOOL
    assert rule.fields == {"pdays"}
    assert rule.segments == {"young_savers"}
    assert rule.lists == frozenset()
    assert rule.source == "pdays is null and in_segment('young_savers')"


def test_segment_rule_must_be_a_condition() -> None:
    with pytest.raises(RuleError) as info:
        compile_rule("  age + 1", FIELDS)
    p = info.value.problems[0]
    assert p.message == "this rule must be a condition (bool), this is an int"
    assert (p.line, p.col) == (1, 3)
    assert p.snippet == "  age + 1\n  ^"


def test_score_accepts_any_number() -> None:
    assert compile_rule("0.5 * age + pdays / 60", FIELDS, expect=F.FLOAT).type is F.FLOAT
    assert compile_rule("age", FIELDS, expect=F.FLOAT).type is F.INT
    with pytest.raises(RuleError, match="a score must be a number, this is text"):
        compile_rule("job", FIELDS, expect=F.FLOAT)
    assert compile_rule("job", FIELDS, expect=None).type is F.TEXT


def test_compile_rule_reports_parse_errors_with_snippet() -> None:
    with pytest.raises(RuleError) as info:
        compile_rule("age >", FIELDS)
    assert info.value.source == "age >"
    assert info.value.problems[0].snippet == "age >\n     ^"


def test_compile_rule_errors_carry_snippets() -> None:
    with pytest.raises(RuleError) as info:
        compile_rule("age > 1 and\nagee < 2", FIELDS)
    assert info.value.problems[0].snippet == "agee < 2\n^"
    assert str(info.value).startswith("line 2, col 1: unknown attribute 'agee'")
