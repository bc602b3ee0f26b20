"""The customer services: declaring fields (audited), listing them, looking customers up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tactica.domain.schema import FieldDef, FieldKind, FieldType
from tactica.errors import InvalidInput, NotFound
from tactica.services import customers
from tactica.services.importing import import_customers
from tactica.store.db import Store
from tests.integration.importing.conftest import rows, write


def test_declare_list_and_look_up(store: Store, tmp_path: Path) -> None:
    new = [
        FieldDef("age", FieldType.INT, description="Age in years"),
        FieldDef("push_token", FieldType.TEXT, FieldKind.CONTACT_POINT, "push"),
    ]
    with store.session() as s:
        assert customers.declare_fields(s, new, actor="alice") == new
        s.commit()
    audit = rows(store, "SELECT actor, action, entity_type, entity_id FROM audit_log ORDER BY id")
    assert audit == [
        ("alice", "declare", "customer_field", "age"),
        ("alice", "declare", "customer_field", "push_token"),
    ]
    with store.session() as s:
        names = [f.name for f in customers.list_fields(s)]
        assert names[-2:] == ["age", "push_token"] and "msisdn" in names
        with pytest.raises(InvalidInput, match="exists already"):
            customers.declare_fields(s, [FieldDef("age", FieldType.INT)], actor="alice")

    import_customers(store, write(tmp_path, "p.csv", "id,age\nc3,30\nc1,10\nc2,20\n"))
    with store.session() as s:
        assert customers.count_customers(s) == 3
        page = customers.search_customers(s, limit=2, offset=1)
        assert [(c["id"], c["age"]) for c in page] == [("c2", 20), ("c3", 30)]
        one = customers.get_customer(s, "c1")
        assert one["age"] == 10 and one["push_token"] is None and "created_at" in one
        with pytest.raises(NotFound, match="no customer 'zz'"):
            customers.get_customer(s, "zz")
    assert customers.field_view(new[1]) == {
        "name": "push_token",
        "type": "text",
        "kind": "contact_point",
        "channel": "push",
        "categories": [],
        "description": "",
    }
