"""Call outcomes from the browser: the centre's file taken whole, or refused whole."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from tactica.store.db import Store
from tests.integration.intake.conftest import called_store
from tests.integration.intake.test_call_outcomes import counts, filled_in, write_csv
from tests.integration.web.conftest import csrf_of, sign_in

PAGE = "/ui/responses/calls"


def _upload(client: TestClient, name: str, content: bytes, **fields: str) -> httpx.Response:
    csrf = csrf_of(client.get(PAGE).text)
    return client.post(
        PAGE,
        data={"csrf": csrf, "opt_out": "channel", **fields},
        files={"file": (name, io.BytesIO(content), "text/csv")},
        follow_redirects=False,
    )


def _tile(html: str, measure: str) -> str:
    found = re.search(rf'data-measure="{measure}">.*?<span class="value">([^<]*)<', html, re.S)
    assert found is not None, html
    return found.group(1)


def test_a_marketer_takes_a_centres_file_and_the_same_file_again_takes_nothing(
    client: TestClient, store: Store, tmp_path: Path
) -> None:
    rows = filled_in(called_store(store, tmp_path / "calls"))
    content = write_csv(tmp_path / "outcomes.csv", rows).read_bytes()
    sign_in(client, "marketer")
    page = client.get("/ui/responses").text
    assert f'href="{PAGE}"' in page
    assert '<option value="lisbon"' in client.get(PAGE).text
    r = _upload(client, "lisbon-outcomes.csv", content, centre="lisbon")
    assert r.status_code == 200, r.text
    assert "lisbon-outcomes.csv: 6 calls taken" in r.text
    assert [_tile(r.text, m) for m in ("orders", "leads", "opt_outs", "recorded")] == [
        "1",
        "2",
        "1",
        "2",
    ]
    stored = counts(store)
    r = _upload(client, "lisbon-outcomes.csv", content, centre="lisbon")
    assert _tile(r.text, "duplicates") == "6" and counts(store) == stored


def test_a_file_with_a_bad_row_is_refused_whole(
    client: TestClient, store: Store, tmp_path: Path
) -> None:
    rows = filled_in(called_store(store, tmp_path / "calls"))
    rows[2] = {**rows[2], "outcome": "maybe"}
    content = write_csv(tmp_path / "outcomes.csv", rows).read_bytes()
    before = counts(store)
    sign_in(client, "marketer")
    r = _upload(client, "outcomes.csv", content, centre="lisbon")
    assert r.status_code == 422
    assert "1 row(s) cannot be taken; nothing was stored" in r.text
    assert re.search(r"row 4, column <code>outcome</code>: <code>maybe</code>", r.text), r.text
    assert counts(store) == before
    r = _upload(client, "outcomes.csv", content, centre="madrid")
    assert r.status_code == 422
    error = re.search(r'id="centre-error">([^<]*)<', r.text)
    assert error is not None and "no call centre &#39;madrid&#39;" in error.group(1)
    r = client.post(PAGE, data={"csrf": csrf_of(client.get(PAGE).text), "opt_out": "channel"})
    assert r.status_code == 422 and "choose the centre&#39;s CSV file" in r.text
    assert counts(store) == before


def test_only_who_works_responses_takes_calls_and_only_with_the_pages_form(
    client: TestClient, store: Store, tmp_path: Path
) -> None:
    rows = filled_in(called_store(store, tmp_path / "calls"))
    content = write_csv(tmp_path / "outcomes.csv", rows).read_bytes()
    before = counts(store)
    sign_in(client, "analyst")
    assert client.get(PAGE).status_code == 403
    csrf = csrf_of(client.get("/ui/dashboard").text)
    files = {"file": ("o.csv", io.BytesIO(content), "text/csv")}
    assert client.post(PAGE, data={"csrf": csrf}, files=files).status_code == 403
    client.cookies.clear()
    sign_in(client, "marketer")
    client.get(PAGE)
    files = {"file": ("o.csv", io.BytesIO(content), "text/csv")}
    r = client.post(PAGE, data={"csrf": "forged", "opt_out": "channel"}, files=files)
    assert r.status_code == 403
    assert counts(store) == before
