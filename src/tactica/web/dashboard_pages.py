"""The monitoring dashboard and its CSV exports, for everyone signed in."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tactica.errors import InvalidInput
from tactica.services.dashboard import MEASURES, Dashboard, Figures, check_range, dashboard
from tactica.web.render import Section, let_in, message, render, today

router = APIRouter(include_in_schema=False)
SECTION = Section(10, "/ui/dashboard", "Dashboard")

#: Labels of the dashboard's measures, as the page and the CSV files name them.
LABELS = {
    "planned": "Planned",
    "sent": "Executed",
    "delivered": "Delivered",
    "failed": "Failed",
    "held_out": "Held out",
    "responses": "Responses",
    "orders": "Orders",
    "revenue": "Revenue",
    "leads": "Leads",
    "cost": "Cost",
}
#: The quick ranges above the dashboard: label → days back from today (None: this year).
PRESETS = {
    "today": ("Today", 0),
    "7d": ("7 days", 6),
    "30d": ("30 days", 29),
    "year": ("Year", None),
}


def _parse_day(text: str | None, name: str, errors: dict[str, str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = f"{text!r} is not a date (YYYY-MM-DD)"
        return None


def _range(
    request: Request,
) -> tuple[date, date, dict[str, str], str]:
    """The range asked for (``from``, ``to`` or ``preset``), errors by field, the preset."""
    q = request.query_params
    now = today()
    errors: dict[str, str] = {}
    preset = q.get("preset", "")
    if preset in PRESETS:
        back = PRESETS[preset][1]
        start = date(now.year, 1, 1) if back is None else now - timedelta(days=back)
        return start, now, errors, preset
    start = _parse_day(q.get("from"), "from", errors) or now
    end = _parse_day(q.get("to"), "to", errors) or (start if q.get("from") else now)
    if not errors:
        try:
            check_range(start, end)
        except InvalidInput as e:
            errors[e.where or "to"] = message(e)
    if errors:
        return now, now, errors, ""
    return start, end, errors, "" if q.get("from") or q.get("to") else "today"


def _figures_json(board: Dashboard) -> str:
    """What the charts draw, as JSON for the page's data block."""

    def num(value: Any) -> float:
        return float(value)

    return json.dumps(
        {
            "days": [d.isoformat() for d in board.days],
            "trend": {
                m: [num(getattr(f, m)) for f in board.days.values()]
                for m in ("planned", "sent", "responses", "orders")
            },
            "funnel": {
                LABELS[m]: num(getattr(board.total, m))
                for m in ("planned", "sent", "delivered", "responses", "orders")
            },
            "channels": {
                ch: {m: num(getattr(f, m)) for m in ("planned", "sent", "responses")}
                for ch, f in board.channels.items()
            },
        }
    )


def _board(request: Request, start: date, end: date) -> Dashboard:
    with request.app.state.store.session() as s:
        return dashboard(s, start, end)


@router.get("/ui/dashboard")
async def dashboard_page(request: Request) -> Response:
    """Monitoring: every campaign, channel and offer for a range of days, with charts."""
    who = await let_in(request)
    if isinstance(who, Response):
        return who
    start, end, errors, preset = _range(request)
    board = await run_in_threadpool(_board, request, start, end)
    return render(
        request,
        "dashboard.html",
        who,
        status_code=422 if errors else 200,
        board=board,
        errors=errors,
        typed={
            "from": request.query_params.get("from", ""),
            "to": request.query_params.get("to", ""),
        },
        preset=preset,
        presets=PRESETS,
        labels=LABELS,
        measures=MEASURES,
        chart_data=_figures_json(board),
        query=f"from={start.isoformat()}&to={end.isoformat()}",
    )


def _csv_rows(board: Dashboard, table: str) -> tuple[list[str], list[list[Any]]]:
    measures = [LABELS[m] for m in MEASURES]
    if table == "campaigns":
        head = ["Program", "Campaign", "Status", "Budget", *measures]
        rows = [
            [r.program, r.campaign, r.status, r.budget or "", *_values(r.figures)]
            for r in board.campaigns
        ]
    elif table in ("channels", "offers"):
        groups: dict[str, Figures] = getattr(board, table)
        head = [table[:-1].capitalize(), *measures]
        rows = [[k, *_values(f)] for k, f in groups.items()]
    else:
        head = ["Day", *measures]
        rows = [[d.isoformat(), *_values(f)] for d, f in board.days.items()]
    return head, rows


def _values(f: Figures) -> list[Any]:
    return [getattr(f, m) for m in MEASURES]


@router.get("/ui/dashboard.csv")
async def dashboard_csv(request: Request, table: str = "campaigns") -> Response:
    """One of the dashboard's tables as a CSV file (campaigns, channels, offers or days)."""
    who = await let_in(request)
    if isinstance(who, Response):
        return who
    if table not in ("campaigns", "channels", "offers", "days"):
        return Response(
            f"no table {table!r}: campaigns, channels, offers or days\n",
            status_code=404,
            media_type="text/plain",
        )
    start, end, errors, _ = _range(request)
    if errors:
        text = "; ".join(f"{k}: {v}" for k, v in errors.items())
        return Response(text + "\n", status_code=422, media_type="text/plain")
    board = await run_in_threadpool(_board, request, start, end)
    head, rows = _csv_rows(board, table)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(head)
    writer.writerows(rows)
    name = f"tactica-{table}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
