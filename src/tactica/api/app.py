"""The FastAPI application: routers, error mapping, the store in app state."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError

from tactica import __version__
from tactica.api.token_memory import TokenMemory
from tactica.config import Settings, get_settings
from tactica.errors import TacticaError, http_status
from tactica.services.event_intake import EventIntake
from tactica.store.db import Store


def _printable(value: Any) -> Any:
    """``value`` with every string safe to encode as UTF-8 JSON.

    Error details quote what the caller sent, and JSON bodies may carry lone
    surrogates (``"\\ud800"``) that no UTF-8 encoder accepts: they are escaped.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


async def _tactica_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TacticaError)
    headers = {"WWW-Authenticate": "Bearer"} if http_status(exc) == 401 else None
    return JSONResponse(_printable(exc.to_dict()), status_code=http_status(exc), headers=headers)


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    # A unique constraint raced past the service's own check: same answer as the check.
    return JSONResponse(
        {"error": "conflict", "detail": "this conflicts with something that exists already"},
        status_code=409,
    )


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DataError)
    return JSONResponse(
        _printable(
            {"error": "invalid_input", "detail": f"the database refused a value: {exc.orig}"}
        ),
        status_code=422,
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"where": ".".join(str(p) for p in e.get("loc", ())), "detail": e.get("msg", "")}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{p['where']}: {p['detail']}" for p in problems)
    return JSONResponse(
        _printable({"error": "invalid_input", "detail": detail, "problems": problems}),
        status_code=422,
    )


class ErrorOut(BaseModel):
    """Every error the API returns: a stable code, a human detail, where it went wrong."""

    error: str
    detail: str
    where: str | None = None
    problems: list[dict[str, Any]] | None = None


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (401, "Missing, invalid or expired token"),
        (403, "Your role may not do this"),
        (404, "Not found"),
        (409, "Conflicts with what exists"),
        (422, "Invalid input: names the field, and the line and column of a rule"),
    )
}


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """The API app over ``store`` (default: the store the settings point at)."""
    settings = settings or get_settings()
    app = FastAPI(
        responses=_ERRORS,
        title="Tactica",
        version=__version__,
        description=(
            "Marketing execution: customers, segments, offers, special lists, programs and runs. "
            "Every route but POST /auth/token needs `Authorization: Bearer <token>`."
        ),
    )
    app.state.settings = settings
    app.state.store = store or Store.from_settings(settings)
    app.state.tokens = TokenMemory()
    # POST /events arriving together are decided together (see services.event_intake).
    app.state.event_intake = EventIntake(app.state.store)
    app.router.add_event_handler("shutdown", app.state.event_intake.close)
    app.add_exception_handler(TacticaError, _tactica_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

    from tactica.api.routes import (
        auth,
        channels,
        customers,
        events,
        links,
        lists,
        metrics,
        offers,
        outbox,
        plan_actions,
        plans,
        programs,
        receipts,
        responses,
        runs,
        sales,
        segments,
        templates,
        unsubscribe,
    )

    # Starlette tries the routes in order: the machine-to-machine ones that take
    # hundreds of calls a second come first (no path of theirs overlaps another's).
    for module in (
        events,
        responses,
        receipts,
        auth,
        customers,
        segments,
        offers,
        lists,
        programs,
        runs,
        templates,
        channels,
        unsubscribe,
        outbox,
        sales,
        links,
        plans,
        plan_actions,
        metrics,
    ):
        app.include_router(module.router)
    from tactica.web import add_web

    add_web(app)
    return app
