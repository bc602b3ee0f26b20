"""A marketer's day through the API: fields, segments, offers, lists."""

from __future__ import annotations

import sqlalchemy as sa

from tactica.store.customer_table import customer_table, load_schema
from tests.integration.api.conftest import Api


def _seed(api: Api) -> None:
    h = api.as_("marketer")
    r = api.client.post(
        "/customer-fields",
        json=[
            {"name": "age", "type": "int"},
            {"name": "region", "type": "category", "categories": ["north", "south"]},
        ],
        headers=h,
    )
    assert r.status_code == 201, r.text
    with api.store.session() as s:
        t = customer_table(load_schema(s))
        s.execute(
            sa.insert(t),
            [
                {"id": "a", "age": 22, "region": "north", "consent_sms": True, "msisdn": "+1"},
                {"id": "b", "age": 45, "region": "south", "consent_sms": False, "msisdn": None},
                {"id": "c", "age": 67, "region": "north", "consent_sms": None, "msisdn": None},
            ],
        )
        s.commit()


def test_fields_are_declared_once_and_listed(api: Api) -> None:
    _seed(api)
    h = api.as_("marketer")
    names = [f["name"] for f in api.client.get("/customer-fields", headers=h).json()]
    assert names[-2:] == ["age", "region"]
    again = api.client.post("/customer-fields", json=[{"name": "age", "type": "int"}], headers=h)
    assert again.status_code == 422
    assert "exists already" in again.json()["detail"]


def test_segment_lifecycle(api: Api) -> None:
    _seed(api)
    h = api.as_("marketer")
    r = api.client.post("/segments", json={"name": "north", "rule": "region = 'north'"}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["size"] == 2
    r = api.client.post("/segments", json={"name": "picked", "ids": ["b", "c"]}, headers=h)
    assert r.json()["kind"] == "static" and r.json()["size"] == 2
    assert api.client.get(
        "/segments/overlap", params={"a": "north", "b": "picked"}, headers=h
    ).json() == {"a": 2, "b": 2, "both": 1, "either": 3, "only_a": 1, "only_b": 1}
    prof = api.client.get("/segments/north/profile", headers=h).json()
    assert prof["numbers"]["age"]["min"] == 22
    assert prof["categories"]["region"] == {"north": 2}
    r = api.client.patch(
        "/segments/north", json={"rule": "region = 'north' and age < 30"}, headers=h
    )
    assert r.json()["size"] == 1
    assert api.client.delete("/segments/north", headers=h).status_code == 204
    assert api.client.get("/segments/north", headers=h).status_code == 404


def test_rule_check_reports_positions_and_sizes(api: Api) -> None:
    _seed(api)
    h = api.as_("analyst")
    ok = api.client.post("/rules/check", json={"rule": "age >= 40"}, headers=h).json()
    assert ok == {"valid": True, "type": "bool", "size": 2, "problems": []}
    num = api.client.post("/rules/check", json={"rule": "age * 2"}, headers=h).json()
    assert num["valid"] and num["type"] == "int" and num["size"] is None
    bad = api.client.post("/rules/check", json={"rule": "age >= 40 and regon = 'x'"}, headers=h)
    body = bad.json()
    assert body["valid"] is False
    assert body["problems"][0]["line"] == 1 and body["problems"][0]["col"] == 15
    assert "region" in body["problems"][0]["message"]
    broken = api.client.post(
        "/segments", json={"name": "x", "rule": "age >="}, headers=api.as_("marketer")
    )
    assert broken.status_code == 422
    assert broken.json()["error"] == "rule_error"
    assert broken.json()["problems"][0]["col"] == 7


def test_lists_through_the_api(api: Api) -> None:
    _seed(api)
    h = api.as_("sales_rep")
    r = api.client.post(
        "/lists/opt_out/entries",
        json={"customer_id": "a", "channel": "sms", "reason": "STOP"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    cust = api.client.get("/customers/a", headers=h).json()
    assert cust["age"] == 22
    assert [(e["list"], e["channel"]) for e in cust["lists"]] == [("opt_out", "sms")]
    csv_text = api.client.get("/lists/opt_out/export", headers=h).text
    assert csv_text.splitlines()[0] == "customer_id,channel,source,reason,created_at,expires_at"
    assert csv_text.splitlines()[1].startswith("a,sms,api,STOP,")
    assert api.client.delete("/lists/opt_out/entries/a", headers=h).status_code == 204
    assert api.client.delete("/lists/opt_out/entries/a", headers=h).status_code == 404
    bad = api.client.post(
        "/lists/opt_out/entries", json={"customer_id": "a", "channel": "fax"}, headers=h
    )
    assert bad.status_code == 422
    assert "channel" in bad.json()["detail"]


def test_import_upload_with_mapping_and_rejects(api: Api) -> None:
    h = api.as_("marketer")
    body = "client;age;phone;sms_ok\nk1;34;+351911;yes\nk2;forty;+351922;no\nk3;51;;no\n"
    mapping = (
        "id: {column: client}\ncolumns:\n  age: {type: int}\n"
        "  phone: {field: msisdn}\n  sms_ok: {field: consent_sms}\n"
    )
    r = api.client.post(
        "/customers/import",
        files={"file": ("crm.csv", body.encode(), "text/csv")},
        data={"mapping": mapping},
        headers=h,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "import_rejected"
    assert "\ncrm.csv, row 3, column 'age': value 'forty'" in r.json()["detail"]
    assert r.json()["problems"][0]["file"] == "crm.csv"  # not the server's scratch path
    assert api.client.get("/customers", headers=h).json()["total"] == 0
    r = api.client.post(
        "/customers/import",
        files={"file": ("crm.csv", body.encode(), "text/csv")},
        data={"mapping": mapping, "keep_rejects": "true"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["inserted"], report["rejected"]) == (2, 1)
    assert "forty" in report["rejects_csv"]
    k1 = api.client.get("/customers/k1", headers=h).json()
    assert (k1["age"], k1["msisdn"], k1["consent_sms"]) == (34, "+351911", True)
    bad_yaml = api.client.post(
        "/customers/import",
        files={"file": ("crm.csv", body.encode(), "text/csv")},
        data={"mapping": "columns: [unclosed"},
        headers=h,
    )
    assert bad_yaml.status_code == 422
    assert bad_yaml.json()["detail"].startswith("mapping: not valid YAML")


def test_list_import_upload(api: Api) -> None:
    h = api.as_("marketer")
    good = "customer_id,channel,reason\nc1,sms,STOP\nc2,all,\n"
    r = api.client.post(
        "/lists/dnd/import", files={"file": ("dnc.csv", good.encode(), "text/csv")}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"entries": 2}
    bad = "customer_id,channel\nc3,sms\nc4,telegraph\n"
    r = api.client.post(
        "/lists/dnd/import", files={"file": ("more.csv", bad.encode(), "text/csv")}, headers=h
    )
    assert r.status_code == 422
    assert "more.csv, row 3, column 'channel': value 'telegraph'" in r.json()["detail"]
    ids = {e["customer_id"] for e in api.client.get("/lists/dnd/entries", headers=h).json()}
    assert ids == {"c1", "c2"}


def test_errors_quoting_odd_unicode_still_answer_json(api: Api) -> None:
    """Found by fuzzing: a lone surrogate quoted back in an error broke the response."""
    r = api.client.post(
        "/customers/import",
        files={"file": ("x.csv", b"id\n1\n", "text/csv")},
        data={"mapping": '"\\ud800": 1'},
        headers=api.as_("marketer"),
    )
    assert r.status_code == 422
    assert "\\ud800" in r.json()["detail"]


def test_upload_errors_name_the_uploaded_file(api: Api) -> None:
    r = api.client.post(
        "/customers/import",
        files={"file": ("empty.csv", b"id,age\n", "text/csv")},
        headers=api.as_("marketer"),
    )
    assert r.status_code == 422
    assert r.json()["detail"] == "empty.csv: the file has a header but no data rows"
    assert r.json()["where"] == "empty.csv"
