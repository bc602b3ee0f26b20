"""Offers on both databases: money kept exact, bounds checked, eligibility rules checked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tactica.errors import Conflict, InvalidInput, NotFound, RuleError
from tactica.services import offers
from tactica.store.db import Store


def _offer(**kw: object) -> offers.OfferInput:
    base: dict[str, object] = {"code": "TD-12M", "name": "12-month term deposit"}
    return offers.OfferInput(**{**base, **kw})  # type: ignore[arg-type]


def test_money_is_exact(store: Store) -> None:
    with store.session() as s:
        offers.create_offer(
            s,
            _offer(price=Decimal("19.99"), value=Decimal("120.10"), margin=Decimal("0.30")),
            actor="t",
        )
        s.commit()
    with store.session() as s:
        o = offers.get_offer(s, "TD-12M")
        assert (o.price, o.value, o.margin) == (
            Decimal("19.99"),
            Decimal("120.10"),
            Decimal("0.30"),
        )
        assert o.price * 3 == Decimal("59.97")


def test_bounds_are_checked_with_the_field_named(store: Store) -> None:
    with store.session() as s:
        with pytest.raises(InvalidInput, match="discount_min: discount_min 20 is above"):
            offers.create_offer(
                s, _offer(discount_min=Decimal(20), discount_max=Decimal(10)), actor="t"
            )
        with pytest.raises(InvalidInput, match="discount_max: a percentage between 0 and 100"):
            offers.create_offer(s, _offer(discount_max=Decimal(150)), actor="t")
        with pytest.raises(InvalidInput, match="valid_from: valid_from 2027-01-01 is after"):
            offers.create_offer(
                s, _offer(valid_from=date(2027, 1, 1), valid_to=date(2026, 1, 1)), actor="t"
            )
        with pytest.raises(InvalidInput, match="price: must not be negative"):
            offers.create_offer(s, _offer(price=Decimal("-1")), actor="t")
        with pytest.raises(InvalidInput, match="offer code"):
            offers.create_offer(s, _offer(code="bad code!"), actor="t")


def test_eligibility_rule_is_checked_against_the_schema(store: Store) -> None:
    with store.session() as s:
        with pytest.raises(RuleError) as err:
            offers.create_offer(
                s, _offer(eligibility="consent_smss and msisdn is not null"), actor="t"
            )
        assert err.value.line == 1 and err.value.col == 1
        assert "consent_sms" in str(err.value)
        o = offers.create_offer(
            s, _offer(eligibility="consent_sms and msisdn is not null"), actor="t"
        )
        assert o.eligibility == "consent_sms and msisdn is not null"


def test_validity_window_filters_offers(store: Store) -> None:
    with store.session() as s:
        offers.create_offer(s, _offer(code="A", valid_to=date(2026, 6, 30)), actor="t")
        offers.create_offer(s, _offer(code="B", valid_from=date(2026, 7, 1)), actor="t")
        offers.create_offer(s, _offer(code="C", active=False), actor="t")
        offers.create_offer(s, _offer(code="D"), actor="t")
        s.commit()
        assert [o.code for o in offers.list_offers(s, active_on=date(2026, 6, 30))] == ["A", "D"]
        assert [o.code for o in offers.list_offers(s, active_on=date(2026, 7, 1))] == ["B", "D"]
        assert [o.code for o in offers.list_offers(s)] == ["A", "B", "C", "D"]


def test_update_delete_and_conflicts(store: Store) -> None:
    with store.session() as s:
        offers.create_offer(s, _offer(), actor="t")
        with pytest.raises(Conflict):
            offers.create_offer(s, _offer(), actor="t")
        offers.update_offer(s, "TD-12M", {"price": Decimal("5.00")}, actor="t")
        with pytest.raises(InvalidInput, match="unknown field"):
            offers.update_offer(s, "TD-12M", {"colour": "red"}, actor="t")
        offers.delete_offer(s, "TD-12M", actor="t")
        s.commit()
        with pytest.raises(NotFound):
            offers.get_offer(s, "TD-12M")


def test_a_page_of_offers_and_every_code(store: Store) -> None:
    with store.session() as s:
        for code in ("D", "B", "A", "C"):
            offers.create_offer(s, _offer(code=code), actor="t")
        s.commit()
        assert [o.code for o in offers.offers_page(s, limit=2)] == ["A", "B"]
        assert [o.code for o in offers.offers_page(s, limit=2, offset=3)] == ["D"]
        assert offers.offer_codes(s) == ["A", "B", "C", "D"]
