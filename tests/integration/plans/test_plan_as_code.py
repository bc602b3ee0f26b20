"""The plan as code, from the CLI: apply, re-apply, export and apply again, refusals
naming the file, the document and the field; ``tactica plan show`` reads it back."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Tactica

PLAN = """\
kind: Team
name: marketing
title: Marketing
lead: dana
members:
  - {username: dana, title: Director}
  - {username: mia, title: Channel lead, reports_to: dana, responsibilities: SMS and e-mail}
---
kind: Team
name: digital
parent: marketing
---
kind: MarketSize
period: 2026
size: 2500000
source: industry association
---
kind: Objective
name: revenue-2026
title: Revenue 2026
kpi: revenue
period: 2026
target: 120000
owner_team: marketing
---
kind: Objective
name: rr-q4
kpi: custom
definition: responses / delivered
period: 2026-Q4
target: 0.05
owner: mia
parent: revenue-2026
scope: {channel: sms}
---
kind: Objective
name: launch-on-time
type: qualitative
period: 2026-Q4
target: 4
reviewer: dana
owner: mia
"""


def _people(tactica: Tactica) -> None:
    for user in ("dana", "mia"):
        r = tactica("users", "create", user, "--role", "marketer", "--password", "long enough pw")
        assert r.code == 0, r.err


def test_apply_export_and_apply_again(tactica: Tactica, tmp_path: Path) -> None:
    _people(tactica)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    r = tactica("apply", "-f", str(plan))
    assert r.code == 0, r.err
    assert r.out.count("created") == 6
    again = tactica("apply", "-f", str(plan))
    assert again.code == 0 and again.out.count("unchanged") == 6, again.out

    exported = tmp_path / "exported.yaml"
    r = tactica("export")
    exported.write_text(r.out)
    r = tactica("apply", "-f", str(exported))
    assert r.code == 0 and "created" not in r.out and "updated" not in r.out, r.out

    # A member the file no longer lists leaves the team.
    plan.write_text(
        "\n".join(line for line in PLAN.splitlines() if "username: mia" not in line) + "\n"
    )
    r = tactica("apply", "-f", str(plan))
    assert "Team marketing updated" in r.out
    teams = tactica("plan", "teams")
    assert "mia" not in teams.out and "dana" in teams.out

    r = tactica("plan", "show", "--period", "2026", "--today", "2026-11-15")
    assert r.code == 0, r.err
    assert "Revenue 2026" in r.out and "behind" in r.out
    assert "delivered is 0: nothing to divide by" in r.out
    assert "in progress" in r.out

    r = tactica("plan", "assess", "launch-on-time", "--score", "5", "--as", "mia")
    assert r.code == 7 and "scored by its reviewer, dana" in r.err
    r = tactica("plan", "assess", "launch-on-time", "--score", "5", "--as", "dana")
    assert r.code == 0 and "scored 5 of 5 by dana" in r.out


def test_a_bad_plan_file_names_the_document_and_field_and_writes_nothing(
    tactica: Tactica, tmp_path: Path
) -> None:
    _people(tactica)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        PLAN.replace("definition: responses / delivered", "definition: responses / (delivered")
    )
    r = tactica("apply", "-f", str(bad))
    assert r.code == 2
    assert "document 5 (Objective): definition: line 1, col 23: expected ')'" in r.err.replace(
        "\n", " "
    )
    assert "No goals for 2026" in tactica("plan", "show", "--period", "2026").out
    assert "marketing" not in tactica("plan", "teams").out
    bad.write_text(PLAN.replace("reports_to: dana", "reports_to: ghost"))
    r = tactica("apply", "-f", str(bad))
    assert r.code == 2 and "team.members[1].reports_to: no user 'ghost'" in r.err.replace("\n", " ")
