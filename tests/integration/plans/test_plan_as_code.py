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


PLANS = """\
---
kind: Plan
name: plan-2026
title: Marketing plan 2026
period: 2026
owner_team: marketing
objective: revenue-2026
strategy: Win back lapsed gold customers; keep SMS under 2 contacts a month.
---
kind: Plan
name: q4-2026
type: quarterly
period: 2026-Q4
parent: plan-2026
actions:
  - name: brief
    subject: Brief the agency on the autumn SMS
    owner: mia
    starts_on: 2026-10-01
    due_on: 2026-10-10
    criteria: copy approved by compliance
  - name: launch
    subject: Launch the autumn program
    owner: mia
    due_on: 2026-11-30
    criteria: every eligible gold customer contacted
    evaluator: dana
  - name: social
    subject: Something on social media
    status: draft
---
kind: Plan
name: brand-2027
type: brand
period: 2027
"""


def test_plans_with_actions_apply_track_and_evaluate(tactica: Tactica, tmp_path: Path) -> None:
    _people(tactica)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN + PLANS)
    r = tactica("apply", "-f", str(plan))
    assert r.code == 0, r.err
    assert "Plan q4-2026 created" in r.out
    assert tactica("apply", "-f", str(plan)).out.count("unchanged") == 9

    r = tactica("plan", "plans", "--today", "2026-11-20")
    assert r.code == 0, r.err
    out = " ".join(r.out.split())
    assert "brand-2027 (brand, 2027): a slogan, not a plan — no actions" in out
    assert "plan-2026 (annual, 2026): a slogan" in out  # its actions are the quarter's
    assert "needs owner, due_on, criteria" in out

    r = tactica("plan", "actions", "--period", "2026-10", "--today", "2026-11-20")
    assert r.code == 0 and "late" in r.out and "Brief the agency" in r.out, r.out
    r = tactica(
        "plan",
        "progress",
        "q4-2026",
        "brief",
        "--status",
        "done",
        "--on",
        "2026-10-12",
        "--as",
        "dana",
    )
    assert r.code == 0 and "done (done late)" in r.out, r.err
    r = tactica(
        "plan",
        "progress",
        "q4-2026",
        "launch",
        "--status",
        "done",
        "--as",
        "mia",
        "--on",
        "2026-11-20",
    )
    assert r.code == 0, r.err
    r = tactica(
        "plan", "evaluate", "q4-2026", "launch", "--result", "met", "--quality", "4", "--as", "mia"
    )
    assert r.code == 7 and "evaluated by dana" in r.err
    r = tactica(
        "plan", "evaluate", "q4-2026", "launch", "--result", "met", "--quality", "4", "--as", "dana"
    )
    assert r.code == 0 and "met, quality 4 of 5, by dana" in r.out
    r = tactica("plan", "actions", "--period", "2026-11", "--owner", "mia", "--today", "2026-11-20")
    assert "done on time" in r.out and "met, quality 4 (dana)" in " ".join(r.out.split())

    # Exported and applied again: nothing changes, progress included.
    exported = tmp_path / "exported.yaml"
    exported.write_text(tactica("export").out)
    r = tactica("apply", "-f", str(exported))
    assert r.code == 0 and "created" not in r.out and "updated" not in r.out, r.out

    # A planned action the file drops is removed; one done must stay listed.
    plan.write_text(
        (PLAN + PLANS).replace(
            "  - name: social\n    subject: Something on social media\n    status: draft\n", ""
        )
    )
    r = tactica("apply", "-f", str(plan))
    assert r.code == 0 and "Plan q4-2026 updated" in r.out, r.err
    cut = (
        (PLAN + PLANS).split("  - name: brief")[0]
        + "  - name: launch"
        + (PLAN + PLANS).split("  - name: launch")[1]
    )
    plan.write_text(cut)
    r = tactica("apply", "-f", str(plan))
    assert r.code == 2 and "action 'brief' is done: keep it in the document" in " ".join(
        r.err.split()
    )


def test_a_bad_action_names_the_document_action_and_field(tactica: Tactica, tmp_path: Path) -> None:
    _people(tactica)
    bad = tmp_path / "bad.yaml"
    bad.write_text(PLAN + PLANS.replace("    due_on: 2026-11-30\n", ""))
    r = tactica("apply", "-f", str(bad))
    err = " ".join(r.err.split())
    assert r.code == 2 and "(Plan): plan.actions[1].due_on: a committed action needs due_on" in err
    assert "No plans" in tactica("plan", "plans").out
    bad.write_text(PLAN + PLANS.replace("type: quarterly", "type: monthly"))
    r = tactica("apply", "-f", str(bad))
    assert r.code == 2 and "period: a monthly plan covers a month, not 2026-Q4" in " ".join(
        r.err.split()
    )
    bad.write_text(PLAN + PLANS.replace("    evaluator: dana", "    evaluater: dana"))
    r = tactica("apply", "-f", str(bad))
    assert r.code == 2 and "plan.actions[1]: unknown field 'evaluater'" in " ".join(r.err.split())
    # A day that does not exist is named by its line, not a crash.
    bad.write_text(PLAN + PLANS.replace("due_on: 2026-11-30", "due_on: 2026-11-31"))
    r = tactica("apply", "-f", str(bad))
    assert r.code == 2 and "'2026-11-31' is not a day" in " ".join(r.err.split())
    line = (PLAN + PLANS).splitlines().index("    due_on: 2026-11-30") + 1
    assert f"line {line}, col 13" in r.err
    r = tactica("plan", "actions", "--period", "2026-11-31")
    assert r.code == 2 and "--period" in r.err
