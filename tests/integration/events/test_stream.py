"""Events from a Redis stream: taken once, acknowledged after the commit, bad ones set aside.

Runs against the local Redis (``TACTICA_TEST_REDIS_URL``, default
``redis://127.0.0.1:6379/0``), each test on a stream of its own. Outside CI a missing
Redis skips these tests; with ``CI=true`` it fails them.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from tactica.cli import main
from tactica.errors import TacticaError
from tactica.services import event_stream
from tactica.services.event_stream import ConsumeStats, consume, dead_letter_stream, publish
from tactica.store.db import Store
from tactica.store.models import Contact, EventRow
from tests.child_process import kill_at, start_tactica, tactica_env

REDIS_URL = os.environ.get("TACTICA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
GROUP = "tactica"

_redis_checked: dict[str, str | None] = {}


def redis_unavailable() -> str | None:
    """Why Redis cannot be used, or None when it can (checked once)."""
    if "why" not in _redis_checked:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            client.ping()
            _redis_checked["why"] = None
        except redis.RedisError as e:
            _redis_checked["why"] = f"Redis not reachable at {REDIS_URL}: {e.__class__.__name__}"
        finally:
            client.close()
    return _redis_checked["why"]


def require_redis() -> None:
    """Skip (or fail in CI) when Redis is not there."""
    why = redis_unavailable()
    if why:
        if IN_CI:
            pytest.fail(f"{why} (CI=true: Redis is required)")
        pytest.skip(why)


@pytest.fixture
def red() -> Iterator[redis.Redis]:
    """A client of the test Redis."""
    require_redis()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def stream(red: redis.Redis) -> Iterator[str]:
    """A stream name no other test uses; it and its dead-letter stream are deleted after."""
    name = f"test:events:{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        red.delete(name, dead_letter_stream(name))


def _event(eid: str, customer: str, amount: Any = 60.0, **over: Any) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "top_up",
        "customer_id": customer,
        "time": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
        "payload": {"amount": amount, "shop": "online"},
        **over,
    }


def _consume(store: Store, stream: str, **kw: Any) -> ConsumeStats:
    kw.setdefault("block_ms", 50)
    return consume(store, REDIS_URL, stream=stream, group=GROUP, once=True, **kw)


def _pending(red: redis.Redis, stream: str) -> int:
    return int(red.xpending(stream, GROUP)["pending"])


def _stored(store: Store) -> dict[str, str]:
    with store.session() as s:
        return {
            eid: status for eid, status in s.execute(sa.select(EventRow.event_id, EventRow.status))
        }


def _contacts_per_event(store: Store) -> dict[str, int]:
    with store.session() as s:
        rows = s.execute(
            sa.select(EventRow.event_id, sa.func.count(Contact.id))
            .join(Contact, Contact.event_id == EventRow.id)
            .group_by(EventRow.event_id)
        )
        return {eid: n for eid, n in rows}


def _dead_letters(red: redis.Redis, stream: str) -> list[dict[str, str]]:
    return [
        {k.decode(): v.decode(errors="replace") for k, v in fields.items()}
        for _id, fields in red.xrange(dead_letter_stream(stream))
    ]


def test_published_events_are_decided_and_acknowledged_after_the_commit(
    events_store: Store, red: redis.Redis, stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending_at_commit: list[int] = []
    take = event_stream.take_events

    def take_then_look(*args: Any, **kw: Any) -> Any:
        taken = take(*args, **kw)
        pending_at_commit.append(_pending(red, stream))
        return taken

    monkeypatch.setattr(event_stream, "take_events", take_then_look)
    assert publish(REDIS_URL, stream, [_event(f"e{i}", f"c{i:02d}") for i in range(12)]) == 12

    stats = _consume(events_store, stream)

    # Customers from c03 on have more than 12 months; c07 has no number, c08 no consent.
    contacted = {f"e{i}" for i in range(3, 12) if i not in (7, 8)}
    assert (stats.read, stats.decided, stats.contacts, stats.rejected) == (12, 12, 7, 0)
    assert pending_at_commit == [12]  # committed while every entry was still pending
    assert _pending(red, stream) == 0
    assert _contacts_per_event(events_store) == dict.fromkeys(contacted, 1)
    assert {eid for eid, status in _stored(events_store).items() if status == "contacted"} == (
        contacted
    )
    again = _consume(events_store, stream)
    assert (again.read, again.decided) == (0, 0)


def test_a_replayed_event_is_acknowledged_and_not_decided_twice(
    events_store: Store, red: redis.Redis, stream: str
) -> None:
    publish(REDIS_URL, stream, [_event("e1", "c05")])
    first = _consume(events_store, stream)
    publish(REDIS_URL, stream, [_event("e1", "c05"), _event("e1", "c05")])

    replay = _consume(events_store, stream)

    assert (first.decided, first.contacts) == (1, 1)
    assert (replay.read, replay.decided, replay.duplicates, replay.contacts) == (2, 0, 2, 0)
    assert _pending(red, stream) == 0
    assert _contacts_per_event(events_store) == {"e1": 1}


def test_an_unknown_customer_is_stored_unattributed_and_the_consumer_goes_on(
    events_store: Store, red: redis.Redis, stream: str
) -> None:
    publish(REDIS_URL, stream, [_event("ghost", "nobody"), _event("after", "c05")])

    stats = _consume(events_store, stream)

    assert (stats.decided, stats.unattributed, stats.contacts) == (2, 1, 1)
    assert _stored(events_store) == {"ghost": "unattributed", "after": "contacted"}
    assert _pending(red, stream) == 0


def test_entries_that_cannot_be_taken_go_to_the_dead_letter_stream_and_the_rest_is_taken(
    events_store: Store, red: redis.Redis, stream: str
) -> None:
    good = json.dumps(_event("good", "c05"))
    bad_amount = json.dumps(_event("bad-amount", "c06", amount="lots"))
    ids = [
        red.xadd(stream, {"event": good}),
        red.xadd(stream, {"event": '{"id": "x", "type":'}),
        red.xadd(stream, {"event": "[1, 2]"}),
        red.xadd(stream, {"event": bad_amount}),
        red.xadd(stream, {"evnt": good}),
        red.xadd(stream, {"event": b"\xff\xfe"}),
        red.xadd(stream, {"event": "[" * 100_000}),
        red.xadd(stream, {"event": json.dumps(_event("good-too", "c09"))}),
    ]

    stats = _consume(events_store, stream)

    assert (stats.read, stats.decided, stats.rejected, stats.contacts) == (8, 2, 6, 2)
    assert set(_stored(events_store)) == {"good", "good-too"}
    assert _pending(red, stream) == 0
    dead = _dead_letters(red, stream)
    assert [d["entry"] for d in dead] == [i.decode() for i in ids[1:7]]
    by_entry = {d["entry"]: d for d in dead}
    assert by_entry[ids[1].decode()]["problems"].startswith("event: not JSON")
    assert by_entry[ids[1].decode()]["event"] == '{"id": "x", "type":'
    assert "got list" in by_entry[ids[2].decode()]["problems"]
    assert by_entry[ids[3].decode()]["event"] == bad_amount
    assert "payload.amount: must be a number, got 'lots'" in by_entry[ids[3].decode()]["problems"]
    assert "no 'event' field; it has: evnt" in by_entry[ids[4].decode()]["problems"]
    assert "not UTF-8" in by_entry[ids[5].decode()]["problems"]
    assert by_entry[ids[6].decode()]["problems"] == "event: JSON nested too deeply"


def test_when_the_database_fails_nothing_is_acknowledged_and_the_same_entries_are_taken_again(
    events_store: Store, red: redis.Redis, stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_stream, "FIRST_BACKOFF", 0.01)
    take = event_stream.take_events
    pending_when_failing: list[int] = []

    def down_twice(*args: Any, **kw: Any) -> Any:
        if len(pending_when_failing) < 2:
            pending_when_failing.append(_pending(red, stream))
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return take(*args, **kw)

    monkeypatch.setattr(event_stream, "take_events", down_twice)
    publish(REDIS_URL, stream, [_event("e1", "c05"), _event("e2", "c09")])

    stats = _consume(events_store, stream)

    assert pending_when_failing == [2, 2]
    assert (stats.retries, stats.decided, stats.contacts) == (2, 2, 2)
    assert _pending(red, stream) == 0


def test_stopped_while_the_database_is_down_the_entries_stay_pending(
    events_store: Store, red: redis.Redis, stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_stream, "FIRST_BACKOFF", 0.01)
    stop = threading.Event()

    def down(*_: Any, **__: Any) -> Any:
        stop.set()
        raise OperationalError("INSERT", {}, Exception("could not connect"))

    monkeypatch.setattr(event_stream, "take_events", down)
    publish(REDIS_URL, stream, [_event("e1", "c05")])

    stats = _consume(events_store, stream, stop=stop)

    assert (stats.retries, stats.decided) == (1, 0)
    assert _pending(red, stream) == 1
    assert _stored(events_store) == {}


def test_an_event_that_breaks_its_batch_is_dead_lettered_alone(
    events_store: Store, red: redis.Redis, stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    take = event_stream.take_events

    def breaks_on_poison(store: Store, events: list[Any], **kw: Any) -> Any:
        if any(e["id"] == "poison" for e in events):
            raise ValueError("cannot decide this one")
        return take(store, events, **kw)

    monkeypatch.setattr(event_stream, "take_events", breaks_on_poison)
    publish(REDIS_URL, stream, [_event("e1", "c05"), _event("poison", "c06"), _event("e3", "c09")])

    stats = _consume(events_store, stream)

    assert (stats.decided, stats.contacts, stats.rejected) == (2, 2, 1)
    assert set(_stored(events_store)) == {"e1", "e3"}
    (dead,) = _dead_letters(red, stream)
    assert dead["problems"] == "cannot be taken: ValueError: cannot decide this one"
    assert json.loads(dead["event"])["id"] == "poison"
    assert _pending(red, stream) == 0


def test_a_consumer_restarted_under_its_name_first_takes_what_it_was_given(
    events_store: Store, red: redis.Redis, stream: str
) -> None:
    publish(REDIS_URL, stream, [_event("e1", "c05"), _event("e2", "c09")])
    event_stream.ensure_group(red, stream, GROUP)
    red.xreadgroup(GROUP, "worker-1", {stream: ">"}, count=10)  # read, then died

    # Not idle long enough to be reclaimed by another: only its own name takes them now.
    stats = _consume(events_store, stream, consumer="worker-1", claim_idle_ms=3_600_000)

    assert (stats.read, stats.claimed, stats.decided) == (2, 0, 2)
    assert _pending(red, stream) == 0
    assert red.xinfo_consumers(stream, GROUP) == []  # it left the group with nothing pending


def _crowd(n: int) -> list[dict[str, Any]]:
    """``n`` events: the twelve customers in turn, some unknown, half below the amount."""
    return [
        _event(
            f"crash-{i}",
            "ghost" if i % 50 == 0 else f"c{i % 12:02d}",
            amount=60.0 if i % 2 else 10.0,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("point", ["events.stream.read", "events.stream.taken"])
def test_a_consumer_killed_mid_stream_leaves_its_entries_to_another_taken_once(
    events_store: Store, red: redis.Redis, stream: str, tmp_path: Path, point: str
) -> None:
    n, batch = 2000, 500
    publish(REDIS_URL, stream, _crowd(n))
    args = ["events", "consume", "--redis-url", REDIS_URL, "--stream", stream]
    args += ["--group", GROUP, "--consumer", "first", "--batch", str(batch)]
    env = tactica_env(events_store.url, tmp_path, point) | {"TACTICA_SECRET_KEY": "x"}

    kill_at(start_tactica(args, env), point)

    assert _pending(red, stream) == batch
    stored_by_the_dead = len(_stored(events_store))
    assert stored_by_the_dead == (batch if point == "events.stream.taken" else 0)
    time.sleep(0.1)
    second = _consume(events_store, stream, consumer="second", claim_idle_ms=50, batch=batch)

    assert second.claimed == batch and second.read == n
    assert second.duplicates == stored_by_the_dead
    assert len(_stored(events_store)) == n
    assert set(_contacts_per_event(events_store).values()) == {1}
    with events_store.session() as s:
        twice = s.execute(
            sa.select(Contact.customer_id, Contact.event_id)
            .group_by(Contact.customer_id, Contact.event_id, Contact.campaign)
            .having(sa.func.count() > 1)
        ).all()
    assert twice == []
    assert _pending(red, stream) == 0


def test_sigterm_stops_the_consumer_after_its_batch_with_a_summary(
    events_store: Store, red: redis.Redis, stream: str, tmp_path: Path
) -> None:
    env = tactica_env(events_store.url, tmp_path) | {"TACTICA_SECRET_KEY": "x"}
    args = ["events", "consume", "--redis-url", REDIS_URL, "--stream", stream, "--group", GROUP]
    proc = start_tactica(args, env)
    try:
        publish(REDIS_URL, stream, [_event(f"e{i}", f"c{i:02d}") for i in range(12)])
        _wait_for(lambda: len(_stored(events_store)) == 12 and _pending(red, stream) == 0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert f"{stream}: 12 read, 12 decided, 7 contacts" in " ".join(out.split())


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_consumer_waits_out_a_redis_restart(
    events_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server to start and stop")
    monkeypatch.setattr(event_stream, "FIRST_BACKOFF", 0.05)
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = _redis_server(port, tmp_path)
    stop = threading.Event()
    worker = threading.Thread(
        target=consume, args=(events_store, url), kwargs={"block_ms": 50, "stop": stop}
    )
    worker.start()
    try:
        publish(url, "tactica:events", [_event("before", "c05")])
        _wait_for(lambda: "before" in _stored(events_store))
        server.terminate()
        server.wait()
        time.sleep(0.3)  # the consumer finds Redis gone and waits
        # Restarted without persistence: the stream and the group are gone too.
        server = _redis_server(port, tmp_path)
        publish(url, "tactica:events", [_event("after", "c09")])
        _wait_for(lambda: "after" in _stored(events_store))
    finally:
        stop.set()
        worker.join(timeout=30)
        server.terminate()
        server.wait()
    assert not worker.is_alive()
    assert _contacts_per_event(events_store) == {"before": 1, "after": 1}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_server(port: int, folder: Path) -> subprocess.Popen[bytes]:
    args = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([*args, "--dir", str(folder)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        _wait_for(lambda: _answers(client), timeout=10)
    finally:
        client.close()
    return server


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# The command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(
    events_store: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., tuple[int, str, str]]:
    """``cli(*args)`` runs ``tactica`` on the events store: exit code, stdout, stderr."""
    monkeypatch.setenv("TACTICA_DATABASE_URL", events_store.url)
    monkeypatch.setenv("TACTICA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TACTICA_SECRET_KEY", "x")
    monkeypatch.setenv("TACTICA_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["tactica", *args])
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = 0
        try:
            main()
        except SystemExit as e:
            code = int(e.code or 0)
        got = capsys.readouterr()
        return code, " ".join(got.out.split()), " ".join(got.err.split())

    return run


def test_publish_a_file_then_consume_once(
    cli: Callable[..., tuple[int, str, str]], red: redis.Redis, stream: str, tmp_path: Path
) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text(
        "\n".join(json.dumps(_event(f"e{i}", f"c{i:02d}")) for i in range(3, 6)) + "\n\n"
    )
    array = tmp_path / "events.json"
    array.write_text(json.dumps([_event("ghost", "nobody")], indent=2))

    assert cli("events", "publish", str(lines), "--stream", stream)[:2] == (
        0,
        f"Published 3 events to {stream} at {REDIS_URL}",
    )
    assert cli("events", "publish", str(array), "--stream", stream)[0] == 0
    piped = json.dumps(_event("e6", "c06"))
    assert cli("events", "publish", "-", "--stream", stream, stdin=piped)[0] == 0
    code, out, err = cli("events", "consume", "--stream", stream, "--once", "--group", GROUP)

    assert code == 0, err
    assert out == (
        f"{stream}: 5 read, 5 decided, 4 contacts, 0 duplicates, 1 unattributed, 0 rejected"
    )
    assert _pending(red, stream) == 0


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"id": "e1"}\n{"id": "e2",\n', "events.txt, line 2: not JSON"),
        ('{"id": "e1"}\n[1]\n', "events.txt, line 2: an event is a JSON object"),
        ('[{"id": "e1"},\n 3]', "events.txt, item 2: an event is a JSON object"),
        ('[{"id": "e1"},\n {"id": ]', "events.txt, line 2: not JSON"),
        ("[" * 100_000, "events.txt: JSON nested too deeply"),
        ('{"id": "e1"}\n' + "[" * 100_000, "events.txt, line 2: JSON nested too deeply"),
    ],
)
def test_publish_names_the_bad_line_and_publishes_nothing(
    cli: Callable[..., tuple[int, str, str]],
    red: redis.Redis,
    stream: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    where: str,
) -> None:
    (tmp_path / "events.txt").write_text(text)
    monkeypatch.chdir(tmp_path)

    code, _, err = cli("events", "publish", "events.txt", "--stream", stream)

    assert code == 2
    assert err.startswith(f"error: {where}")
    assert red.exists(stream) == 0


def test_consume_refuses_a_database_that_is_not_migrated(
    red: redis.Redis, stream: str, tmp_path: Path
) -> None:
    bare = Store(f"sqlite:///{tmp_path / 'bare.db'}")
    publish(REDIS_URL, stream, [_event("e1", "c05")])

    try:
        with pytest.raises(TacticaError, match=r"cannot take events .*\(tactica db upgrade\)"):
            consume(bare, REDIS_URL, stream=stream, once=True)
    finally:
        bare.dispose()
    assert red.xlen(stream) == 1
    assert red.xinfo_groups(stream) == []  # not even joined: nothing read, nothing pending


def test_the_commands_name_a_redis_they_cannot_reach(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    (tmp_path / "one.jsonl").write_text(json.dumps(_event("e1", "c05")))
    nowhere = "redis://:hush@127.0.0.1:1/0"

    consumed = cli("events", "consume", "--redis-url", nowhere, "--once")
    published = cli("events", "publish", str(tmp_path / "one.jsonl"), "--redis-url", nowhere)

    for code, _, err in (consumed, published):
        assert code == 1
        assert err.startswith("error: Redis not reachable at redis://:***@127.0.0.1:1/0")
        assert "hush" not in err
    missing = cli("events", "publish", str(tmp_path / "missing.jsonl"))
    assert missing[0] == 2 and "missing.jsonl: cannot read it" in missing[2]


def test_an_entry_consumers_keep_dying_on_is_dead_lettered_and_the_others_taken(
    events_store: Store, red: redis.Redis, stream: str
) -> None:
    publish(REDIS_URL, stream, [_event("e1", "c05"), _event("poison", "c06"), _event("e3", "c09")])
    event_stream.ensure_group(red, stream, GROUP)
    # A consumer took all three and died; the middle one has killed five more since.
    red.xreadgroup(GROUP, "dead", {stream: ">"}, count=3)
    ids = [entry_id for entry_id, _ in red.xrange(stream)]
    red.xclaim(stream, GROUP, "dead", min_idle_time=0, message_ids=[ids[1]], retrycount=6)

    stats = _consume(events_store, stream, consumer="alive", claim_idle_ms=0)

    assert set(_stored(events_store)) == {"e1", "e3"}
    (dead,) = _dead_letters(red, stream)
    assert dead["entry"] == ids[1].decode() and '"poison"' in dead["event"]
    assert "times and never acknowledged" in dead["problems"]
    assert stats.rejected == 1 and stats.decided == 2
    assert _pending(red, stream) == 0
