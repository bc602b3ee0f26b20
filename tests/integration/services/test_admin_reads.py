"""What the admin pages read: every user's tokens a page at a time, the audit log by
span of time, its subject types and its CSV export, each kind's channel settings."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tactica.domain.channel_config import KINDS, ChannelSpec, kind_settings
from tactica.errors import InvalidInput
from tactica.services import audit, users
from tactica.store.db import Store
from tactica.store.models import ApiToken, AuditEntry


def test_every_users_tokens_newest_first_by_user_and_state(store: Store) -> None:
    with store.session() as s:
        ana = users.create_user(s, "ana", "long password", "analyst", actor="t")
        bo = users.create_user(s, "bo", "long password", "marketer", actor="t")
        secret, first = users.create_token(s, ana, name="first", actor="t")
        users.create_token(s, bo, name="second", actor="t")
        users.create_token(s, ana, name="third", ttl_days=None, actor="t")
        users.revoke_token(s, first.id, actor="t")
        # An expired one: its end has passed.
        _, old = users.create_token(s, bo, name="old", actor="t")
        s.execute(
            sa.update(ApiToken)
            .where(ApiToken.id == old.id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        s.commit()

        rows = users.all_tokens(s)
        assert [(r["name"], r["user"], r["state"]) for r in rows] == [
            ("old", "bo", "expired"),
            ("third", "ana", "live"),
            ("second", "bo", "live"),
            ("first", "ana", "revoked"),
        ]
        # Never the secret, nor what it hashes to: only the prefix it starts with.
        assert rows[-1]["prefix"] == secret[:10] and "token_hash" not in rows[-1]
        assert secret not in str(rows)
        assert rows[1]["expires_at"] is None and rows[-1]["revoked_at"] is not None
        assert [r["name"] for r in users.all_tokens(s, username="ana")] == ["third", "first"]
        assert [r["name"] for r in users.all_tokens(s, state="live")] == ["third", "second"]
        assert [r["name"] for r in users.all_tokens(s, state="ended")] == ["old", "first"]
        assert [r["name"] for r in users.all_tokens(s, limit=2, offset=1)] == ["third", "second"]
        with pytest.raises(InvalidInput, match="state"):
            users.all_tokens(s, state="fresh")


def _entry(s: object, actor: str, kind: str, at: datetime) -> None:
    s.add(  # type: ignore[attr-defined]
        AuditEntry(actor=actor, action="update", entity_type=kind, entity_id="x", at=at)
    )


def test_the_log_by_span_of_time_its_subject_types_and_its_csv(store: Store) -> None:
    day = datetime(2026, 6, 10, tzinfo=UTC)
    with store.session() as s:
        assert audit.entity_types(s) == []
        _entry(s, "user:a", "offer", day - timedelta(seconds=1))
        _entry(s, "user:a", "channel", day)
        _entry(s, "user:b", "offer", day + timedelta(hours=23, minutes=59))
        _entry(s, "system", "program", day + timedelta(days=1))
        s.commit()

        def found(**kw: object) -> list[tuple[str, str]]:
            return [(e.actor, e.entity_type) for e in audit.list_entries(s, **kw)]  # type: ignore[arg-type]

        # ``since`` is in, ``until`` out: one whole day.
        assert found(since=day, until=day + timedelta(days=1)) == [
            ("user:b", "offer"),
            ("user:a", "channel"),
        ]
        assert found(until=day) == [("user:a", "offer")]
        assert found(actor="user:a", since=day) == [("user:a", "channel")]
        assert audit.entity_types(s) == ["channel", "offer", "program"]

        out = io.StringIO()
        n = audit.write_csv(s, out, entity_type="offer")
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert n == 2 and list(rows[0]) == list(audit.CSV_COLUMNS)
    assert [r["actor"] for r in rows] == ["user:b", "user:a"]
    assert rows[0]["at"].startswith("2026-06-10T23:59")


def test_each_kind_names_the_settings_it_requires_and_may_take() -> None:
    every = kind_settings()
    assert set(every) == set(KINDS)
    assert every["sms_http"][0] == ("url", "api_key")
    assert "password" in every["smtp"][1]
    samples = {"host": "h", "port": 25, "sender": "a@b.example", "url": "https://x.example"}
    for kind, (required, _) in every.items():
        settings = {k: samples.get(k, "value") for k in required}
        assert ChannelSpec.for_kind("c", kind, settings).problems() == [], kind
