"""A page of a list's entries, searched by the start of a customer id, and its size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tactica.errors import NotFound
from tactica.services import lists
from tactica.store.db import Store


def test_entries_in_force_newest_first_searched_by_the_start_of_an_id(store: Store) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    with store.session() as s:
        items = [lists.EntryInput(f"c{i:02d}") for i in range(30)]
        items += [lists.EntryInput("c1_x"), lists.EntryInput("c1%"), lists.EntryInput("c1z", "sms")]
        items.append(lists.EntryInput("c15", "email", expires_at=past))  # expired: not in force
        lists.add_entries(s, "blacklist", items, actor="t")
        s.commit()

        def ids(**kw: object) -> list[str]:
            return [e["customer_id"] for e in lists.search_entries(s, "blacklist", **kw)]  # type: ignore[arg-type]

        assert ids(limit=3) == ["c1z", "c1%", "c1_x"]
        assert ids(limit=2, offset=3) == ["c29", "c28"]
        every = ids(customer_prefix="c1")
        assert every == ["c1z", "c1%", "c1_x", *[f"c{i}" for i in range(19, 9, -1)]]
        # '_' and '%' are themselves, not patterns.
        assert ids(customer_prefix="c1_") == ["c1_x"]
        assert ids(customer_prefix="c1%") == ["c1%"]
        assert ids(customer_prefix="nobody") == []
        assert lists.list_size(s, "blacklist") == 33
        assert lists.list_size(s, "vip") == 0
        with pytest.raises(NotFound):
            lists.search_entries(s, "nope")
        with pytest.raises(NotFound):
            lists.list_size(s, "nope")
