"""Every route is authenticated and role-checked; changes land in the audit log."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.integration.api.conftest import PASSWORD, Api

#: Public routes: a signed token in the path is their authority, and a forged one is
#: refused with this status instead of 401.
SIGNED = {"/unsubscribe/{token}": 400, "/r/{token}": 404}


def test_login_issues_a_working_token(api: Api) -> None:
    r = api.client.post("/auth/token", json={"username": "marketer", "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    me = api.client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "marketer"
    assert me.json()["role"] == "marketer"
    assert "password_hash" not in me.json()


def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    a = api.client.post("/auth/token", json={"username": "marketer", "password": "nope-nope"})
    b = api.client.post("/auth/token", json={"username": "ghost", "password": "nope-nope"})
    assert a.status_code == b.status_code == 401
    assert (
        a.json() == b.json() == {"error": "unauthenticated", "detail": "wrong username or password"}
    )


def test_routes_refuse_missing_or_bad_tokens(api: Api) -> None:
    for path in ("/me", "/offers", "/lists", "/segments", "/customers", "/users", "/audit"):
        assert api.client.get(path).status_code == 401, path
        bad = api.client.get(path, headers={"Authorization": "Bearer tct_forged"})
        assert bad.status_code == 401, path
        assert bad.headers["www-authenticate"] == "Bearer"


def test_every_route_but_login_needs_a_token(api: Api) -> None:
    """Walk the OpenAPI spec: each operation without credentials gets 401 (or 422 on login).

    Signed public routes (unsubscribe and tracked links) refuse a made-up token instead;
    the health check is open (load balancers probe without credentials) and says only
    whether the database answers.
    """
    spec = api.client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        concrete = path.replace("{", "").replace("}", "")
        for method in ops:
            r = api.client.request(method.upper(), concrete, json={})
            if path == "/auth/token":
                assert r.status_code == 422
            elif path == "/healthz":
                assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}
            elif path in SIGNED:
                assert r.status_code == SIGNED[path], f"{method.upper()} {path} -> {r.status_code}"
            else:
                assert r.status_code == 401, f"{method.upper()} {path} -> {r.status_code}"


def test_roles_are_enforced(api: Api) -> None:
    offer = {"code": "TD-1", "name": "Term deposit"}
    assert api.client.post("/offers", json=offer, headers=api.as_("analyst")).status_code == 403
    assert api.client.post("/offers", json=offer, headers=api.as_("sales_rep")).status_code == 403
    assert api.client.post("/offers", json=offer, headers=api.as_("marketer")).status_code == 201
    assert api.client.get("/offers", headers=api.as_("analyst")).status_code == 200
    assert api.client.get("/users", headers=api.as_("marketer")).status_code == 403
    assert api.client.get("/users", headers=api.as_("admin")).status_code == 200
    assert api.client.get("/audit", headers=api.as_("marketer")).status_code == 403
    r = api.client.get("/audit", headers=api.as_("analyst"))
    assert r.status_code == 200


def test_admin_creates_users_and_deactivation_locks_them_out(api: Api) -> None:
    h = api.as_("admin")
    r = api.client.post(
        "/users",
        json={"username": "li.wei", "password": "s3cret-pass", "role": "sales_rep"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    tok = api.client.post("/auth/token", json={"username": "li.wei", "password": "s3cret-pass"})
    bearer = {"Authorization": f"Bearer {tok.json()['token']}"}
    assert api.client.get("/me", headers=bearer).status_code == 200
    assert api.client.patch("/users/li.wei", json={"active": False}, headers=h).status_code == 200
    assert api.client.get("/me", headers=bearer).status_code == 401
    dup = api.client.post(
        "/users",
        json={"username": "li.wei", "password": "s3cret-pass", "role": "analyst"},
        headers=h,
    )
    assert dup.status_code == 409


def test_changes_are_audited_with_before_and_after(api: Api) -> None:
    h = api.as_("marketer")
    api.client.post(
        "/offers", json={"code": "TD-2", "name": "Deposit", "price": "10.00"}, headers=h
    )
    api.client.patch("/offers/TD-2", json={"price": "12.50"}, headers=h)
    log = api.client.get(
        "/audit", params={"entity_type": "offer", "entity_id": "TD-2"}, headers=api.as_("admin")
    ).json()
    assert [e["action"] for e in log] == ["update", "create"]
    update = log[0]
    assert update["actor"] == "user:marketer"
    assert update["before"]["price"] == "10.00"
    assert update["after"]["price"] == "12.50"
    assert log[1]["before"] is None


def test_a_token_revoked_elsewhere_stops_working_once_the_memory_lapses(api: Api) -> None:
    from tactica.api.token_memory import TokenMemory
    from tactica.services import users

    api.client.app.state.tokens = TokenMemory(seconds=0.5)  # type: ignore[attr-defined]
    with api.store.session() as s:
        u = users.get_user(s, "analyst")
        secret, tok = users.create_token(s, u, name="elsewhere", actor="test")
        s.commit()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/me", headers=bearer).status_code == 200
    # Revoked by another process (the command line): this one remembers the token a while.
    with api.store.session() as s:
        users.revoke_token(s, tok.id, actor="test")
        s.commit()
    assert api.client.get("/me", headers=bearer).status_code == 200
    time.sleep(0.6)
    assert api.client.get("/me", headers=bearer).status_code == 401
    assert api.client.get("/me", headers=bearer).status_code == 401  # refusals are not kept


def test_a_remembered_token_is_not_honoured_past_its_expiry(api: Api) -> None:
    from tactica.api.token_memory import TokenMemory
    from tactica.domain.access import Role
    from tactica.services.users import Principal

    memory = TokenMemory(seconds=60)
    who = Principal(1, "analyst", Role.ANALYST)
    memory.remember("tct_a", who, datetime.now(UTC) + timedelta(seconds=0.3))
    memory.remember("tct_b", who, None)
    assert memory.recall("tct_a") == who
    time.sleep(0.4)
    assert memory.recall("tct_a") is None
    assert memory.recall("tct_b") == who
    assert memory.recall("tct_c") is None
    memory.forget()
    assert memory.recall("tct_b") is None
