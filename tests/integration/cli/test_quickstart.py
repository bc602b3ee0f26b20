"""`tactica quickstart` builds the demo on each database, and again without duplicating it."""

from __future__ import annotations

import re

from tests.conftest import Tactica


def test_quickstart_builds_the_demo_and_is_repeatable(tactica: Tactica) -> None:
    first = tactica("quickstart")
    assert first.code == 0, first.err
    assert "41,188 rows, 41,188 new, 0 changed, 0 unchanged" in first.out
    # Segment sizes on the real bank file: fixed by the data, whatever the database.
    sizes = dict(re.findall(r"│ ([a-z-]+)\s+│ ([\d,]+)\s+│", first.out))
    assert sizes["young-savers"] == "4,658"
    assert sizes["retirees"] == "1,823"
    assert sizes["converters"] == "4,640"
    assert sizes["never-contacted"] == "35,563"
    assert "0 new, 41,188 changed, 0 unchanged (upsert by id)" in first.out
    assert "Profile of young-savers" in first.out
    again = tactica("quickstart")
    assert again.code == 0, again.err
    assert "41,188 rows, 0 new, 0 changed, 41,188 unchanged" in again.out
    assert dict(re.findall(r"│ ([a-z-]+)\s+│ ([\d,]+)\s+│", again.out)) == sizes
    r = tactica("segments", "overlap", "young-savers", "reachable-by-sms")
    assert r.code == 0 and "both" in r.out
