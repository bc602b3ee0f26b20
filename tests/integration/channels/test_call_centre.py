"""CallCentreAdapter: daily CSV call lists on a real file system."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tactica.channels.base import OutboundMessage, SendOutcome
from tactica.channels.call_centre import CALL_LIST_COLUMNS, CallCentreAdapter, read_call_list

NOON_24TH = datetime(2025, 3, 24, 12, 0, tzinfo=UTC)

AWKWARD_SCRIPTS = [
    "Hello, Mrs Smith, this is Tactica Bank.",
    'Say: "Good morning" — then "wait for the answer".',
    "Line one\nLine two\n\nLine four after a blank line",
    "Windows breaks\r\nsecond line\rold Mac break",
    "您好！我们有一个适合您的新信用卡优惠。",
    "Здравствуйте! У нас есть для вас новое предложение, «без комиссии».",
    "  leading and trailing spaces  ",
    '"",,\n"quoted start, comma end,',
    "=SUM(A1:A2) is just text here",
    "",
    "emoji 📞 and tab\tinside",
]


def call(contact_id: int, script: str = "Hi", phone: str | None = None) -> OutboundMessage:
    return OutboundMessage(
        contact_id=contact_id,
        idempotency_key=f"tactica-{contact_id}",
        channel="phone",
        to=phone if phone is not None else f"+4470000{contact_id:05d}",
        subject=None,
        body=script,
        metadata={"customer_id": f"C{contact_id}", "campaign": "spring", "offer": "gold-card"},
    )


class Clock:
    """A settable clock for the adapter."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def adapter(folder: Path, clock: Callable[[], datetime], **kw: str) -> CallCentreAdapter:
    return CallCentreAdapter(folder, "lyon", clock=clock, **kw)


def test_rows_round_trip_with_awkward_scripts(tmp_path: Path) -> None:
    cc = adapter(tmp_path, Clock(NOON_24TH))
    messages = [call(i, script) for i, script in enumerate(AWKWARD_SCRIPTS, start=1)]
    results = cc.send_batch(messages)
    assert [r.contact_id for r in results] == [m.contact_id for m in messages]
    assert {r.outcome for r in results} == {SendOutcome.SENT}
    assert {r.provider_id for r in results} == {"lyon-2025-03-24.csv"}
    path = tmp_path / "lyon-2025-03-24.csv"
    assert path.read_bytes().startswith(b"contact_id,customer_id,phone,campaign,offer,script\r\n")
    rows = read_call_list(path)
    assert rows == [
        {
            "contact_id": str(m.contact_id),
            "customer_id": f"C{m.contact_id}",
            "phone": m.to,
            "campaign": "spring",
            "offer": "gold-card",
            "script": m.body,
        }
        for m in messages
    ]
    assert list(rows[0]) == list(CALL_LIST_COLUMNS)
    assert cc.exported_today() == len(messages)


def test_missing_metadata_leaves_columns_empty(tmp_path: Path) -> None:
    cc = adapter(tmp_path, Clock(NOON_24TH))
    msg = OutboundMessage(7, "k7", "phone", "+331234", None, "Bonjour")
    assert cc.send_batch([msg])[0].outcome is SendOutcome.SENT
    [row] = read_call_list(tmp_path / "lyon-2025-03-24.csv")
    assert row == {
        "contact_id": "7",
        "customer_id": "",
        "phone": "+331234",
        "campaign": "",
        "offer": "",
        "script": "Bonjour",
    }


def test_second_send_of_the_same_contacts_writes_nothing(tmp_path: Path) -> None:
    clock = Clock(NOON_24TH)
    cc = adapter(tmp_path, clock)
    cc.send_batch([call(1), call(2), call(3)])
    path = tmp_path / "lyon-2025-03-24.csv"
    before = path.read_bytes()

    again = cc.send_batch([call(2), call(1), call(3, "a different script")])
    assert [(r.contact_id, r.outcome, r.provider_id) for r in again] == [
        (2, SendOutcome.SENT, path.name),
        (1, SendOutcome.SENT, path.name),
        (3, SendOutcome.SENT, path.name),
    ]
    assert path.read_bytes() == before

    # A worker that restarts (a new adapter) reads the file and still writes nothing new.
    restarted = adapter(tmp_path, clock)
    assert restarted.exported_today() == 3
    mixed = restarted.send_batch([call(3), call(4), call(4)])
    assert [r.outcome for r in mixed] == [SendOutcome.SENT] * 3
    assert [row["contact_id"] for row in read_call_list(path)] == ["1", "2", "3", "4"]
    assert restarted.exported_today() == 4


def test_a_new_day_starts_a_new_file(tmp_path: Path) -> None:
    clock = Clock(NOON_24TH)
    cc = adapter(tmp_path, clock)
    assert cc.send_batch([call(1), call(2)])[0].provider_id == "lyon-2025-03-24.csv"
    assert cc.exported_today() == 2

    clock.now += timedelta(days=1)
    assert cc.exported_today() == 0
    results = cc.send_batch([call(2), call(3)])  # 2 was yesterday's: it goes on today's too
    assert {r.provider_id for r in results} == {"lyon-2025-03-25.csv"}
    assert cc.exported_today() == 2
    assert [r["contact_id"] for r in read_call_list(tmp_path / "lyon-2025-03-24.csv")] == [
        "1",
        "2",
    ]
    assert [r["contact_id"] for r in read_call_list(tmp_path / "lyon-2025-03-25.csv")] == [
        "2",
        "3",
    ]

    clock.now -= timedelta(days=1)  # back to yesterday: its file is read again
    assert cc.exported_today() == 2
    cc.send_batch([call(1), call(4)])
    assert [r["contact_id"] for r in read_call_list(tmp_path / "lyon-2025-03-24.csv")] == [
        "1",
        "2",
        "4",
    ]


def test_the_day_is_the_centres(tmp_path: Path) -> None:
    late = Clock(datetime(2025, 3, 24, 23, 30, tzinfo=UTC))
    shanghai = CallCentreAdapter(tmp_path, "shanghai", clock=late, timezone="Asia/Shanghai")
    utc = CallCentreAdapter(tmp_path, "london", clock=late)
    assert shanghai.send_batch([call(1)])[0].provider_id == "shanghai-2025-03-25.csv"
    assert utc.send_batch([call(1)])[0].provider_id == "london-2025-03-24.csv"
    assert (tmp_path / "shanghai-2025-03-25.csv").exists()
    # A naive clock reading is UTC, not the machine's local time.
    naive = CallCentreAdapter(
        tmp_path, "naive", clock=lambda: datetime(2025, 3, 24, 23, 30), timezone="Asia/Shanghai"
    )
    assert naive.send_batch([call(1)])[0].provider_id == "naive-2025-03-25.csv"


def test_unwritable_folder_gives_temporary_for_the_batch(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "calls"
    not_a_folder.write_text("a file where the folder should be")
    cc = adapter(not_a_folder, Clock(NOON_24TH))
    results = cc.send_batch([call(1), call(2)])
    assert [r.contact_id for r in results] == [1, 2]
    assert [r.outcome for r in results] == [SendOutcome.TEMPORARY] * 2
    assert results[0].error is not None and "lyon-2025-03-24.csv" in results[0].error
    assert "NotADirectoryError" in results[0].error or "FileExistsError" in results[0].error


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to read-only folders")
def test_read_only_folder_gives_temporary(tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        results = adapter(folder, Clock(NOON_24TH)).send_batch([call(1)])
    finally:
        folder.chmod(0o755)
    assert results[0].outcome is SendOutcome.TEMPORARY
    assert results[0].error is not None and "PermissionError" in results[0].error


def test_the_folder_is_created(tmp_path: Path) -> None:
    cc = adapter(tmp_path / "out" / "calls", Clock(NOON_24TH))
    assert cc.exported_today() == 0
    assert cc.send_batch([call(1)])[0].outcome is SendOutcome.SENT
    assert (tmp_path / "out" / "calls" / "lyon-2025-03-24.csv").exists()


def test_bad_messages_are_permanent_and_the_rest_go(tmp_path: Path) -> None:
    cc = adapter(tmp_path, Clock(NOON_24TH))
    results = cc.send_batch(
        [call(1), call(2, phone="  "), call(3, "broken \ud800 surrogate"), call(4)]
    )
    assert [r.outcome for r in results] == [
        SendOutcome.SENT,
        SendOutcome.PERMANENT,
        SendOutcome.PERMANENT,
        SendOutcome.SENT,
    ]
    assert results[1].error == "no phone number"
    assert results[2].error is not None and "Unicode" in results[2].error
    assert [r["contact_id"] for r in read_call_list(tmp_path / "lyon-2025-03-24.csv")] == [
        "1",
        "4",
    ]


def test_empty_batch_touches_nothing(tmp_path: Path) -> None:
    assert adapter(tmp_path, Clock(NOON_24TH)).send_batch([]) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "torn",
    [
        b'3,C3,+44700000003,spring,gold-card,"Hello',  # cut inside a quoted script
        b'3,C3,+44700000003,spring,gold-card,"Hello\r\nsecond line\r\n',  # after a break
        b"3,C3,+4470",  # cut mid-row, no quotes
        "3,C3,+44700000003,spring,gold-card,Приве".encode()[:-1],  # mid-character
    ],
)
def test_a_row_cut_short_by_a_crash_is_removed(tmp_path: Path, torn: bytes) -> None:
    clock = Clock(NOON_24TH)
    adapter(tmp_path, clock).send_batch([call(1), call(2, "two\nlines")])
    path = tmp_path / "lyon-2025-03-24.csv"
    with path.open("ab") as f:
        f.write(torn)

    restarted = adapter(tmp_path, clock)
    assert restarted.exported_today() == 2  # the torn row does not count
    results = restarted.send_batch([call(2), call(3, "Hello\nagain")])
    assert [r.outcome for r in results] == [SendOutcome.SENT] * 2
    rows = read_call_list(path)
    assert [(r["contact_id"], r["script"]) for r in rows] == [
        ("1", "Hi"),
        ("2", "two\nlines"),
        ("3", "Hello\nagain"),
    ]
    assert restarted.exported_today() == 3


def test_a_torn_header_is_rewritten(tmp_path: Path) -> None:
    (tmp_path / "lyon-2025-03-24.csv").write_bytes(b"contact_id,custo")
    adapter(tmp_path, Clock(NOON_24TH)).send_batch([call(1)])
    assert [r["contact_id"] for r in read_call_list(tmp_path / "lyon-2025-03-24.csv")] == ["1"]


def test_a_file_that_is_not_a_call_list_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "lyon-2025-03-24.csv"
    path.write_bytes(b"name,amount\r\nbob,3\r\n")
    results = adapter(tmp_path, Clock(NOON_24TH)).send_batch([call(1)])
    assert results[0].outcome is SendOutcome.TEMPORARY
    assert results[0].error is not None and "not a call list" in results[0].error
    assert path.read_bytes() == b"name,amount\r\nbob,3\r\n"


def test_writers_sharing_a_file_see_each_others_rows(tmp_path: Path) -> None:
    clock = Clock(NOON_24TH)
    first, second = adapter(tmp_path, clock), adapter(tmp_path, clock)
    first.send_batch([call(1), call(2)])
    second.send_batch([call(2), call(3)])
    first.send_batch([call(3), call(4)])
    assert first.exported_today() == second.exported_today() == 4
    ids = [r["contact_id"] for r in read_call_list(tmp_path / "lyon-2025-03-24.csv")]
    assert ids == ["1", "2", "3", "4"]


def test_concurrent_writers_write_each_contact_once(tmp_path: Path) -> None:
    clock = Clock(NOON_24TH)
    script = "Long script, with commas,\nbreaks and «quotes» " * 20

    def worker(offset: int) -> None:
        cc = adapter(tmp_path, clock)  # its own file handle, as another process would have
        for start in range(offset, 200, 10):
            cc.send_batch([call(i, script) for i in range(start, start + 15)])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = read_call_list(tmp_path / "lyon-2025-03-24.csv")
    sent = {i for k in range(4) for start in range(k, 200, 10) for i in range(start, start + 15)}
    assert sorted(int(r["contact_id"]) for r in rows) == sorted(sent)
    assert {r["script"] for r in rows} == {script}


def test_bad_centre_or_timezone_is_refused(tmp_path: Path) -> None:
    for centre in ("", "../etc", "a/b", ".hidden"):
        with pytest.raises(ValueError, match="centre"):
            CallCentreAdapter(tmp_path, centre)
    with pytest.raises(ValueError, match="timezone"):
        CallCentreAdapter(tmp_path, "lyon", timezone="Mars/Olympus")
    assert CallCentreAdapter(tmp_path, "lyon-north_2.b").kind == "phone"
