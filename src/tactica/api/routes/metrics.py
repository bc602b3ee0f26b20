"""Observability: ``GET /metrics`` for Prometheus and ``GET /healthz`` for load balancers.

``/metrics`` needs a bearer token with ``events:read`` (analysts, marketers,
admins): it counts events and names the programs and campaigns they reached, as
``GET /events/figures`` does. A Prometheus scrape job sends the token in its
``authorization`` block (see docs/metrics.md).

``/healthz`` is open, as load balancers and orchestrators probe without credentials;
it says only whether the store answers, never why in detail (that goes to the log).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from tactica.api.deps import SessionDep, StoreDep, require
from tactica.domain.access import Permission
from tactica.realtime import metrics
from tactica.services.users import Principal

log = logging.getLogger(__name__)

router = APIRouter(tags=["observability"])
Reader = Annotated[Principal, Depends(require(Permission.EVENTS_READ))]


class Health(BaseModel):
    """Whether this API process and its store answer."""

    status: str
    database: str


_METRICS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/plain": {"schema": {"type": "string"}}},
        "description": "Every metric in the Prometheus text format (version 0.0.4)",
    },
}
_HEALTH: dict[int | str, dict[str, Any]] = {
    503: {"model": Health, "description": "The store does not answer"},
}


@router.get("/metrics", response_class=Response, responses=_METRICS)
def prometheus_metrics(session: SessionDep, _: Reader) -> Response:
    """Decision latency, events per source and status, and per-campaign event figures."""
    return Response(metrics.exposition(session), media_type=metrics.CONTENT_TYPE)


@router.get("/healthz", response_model=Health, responses=_HEALTH)
def health(store: StoreDep) -> Health | JSONResponse:
    """200 when the store answers ``SELECT 1``; 503 with the reason when it does not."""
    try:
        with store.session() as s:
            s.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as e:
        log.warning("/healthz: SELECT 1 on the store failed: %s", e)
        down = Health(status="unavailable", database=f"SELECT 1 failed ({e.__class__.__name__})")
        return JSONResponse(down.model_dump(), status_code=503)
    return Health(status="ok", database="ok")
