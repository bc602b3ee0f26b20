"""Runs: run a program (or preview it), read runs and their funnels, explain a customer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, StoreDep, actor_of, require
from tactica.domain.access import Permission
from tactica.engine.plan import FunnelRow
from tactica.errors import NotFound
from tactica.services import explain, runs
from tactica.services.users import Principal

router = APIRouter(tags=["runs"])
Reader = Annotated[Principal, Depends(require(Permission.PROGRAMS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.PROGRAMS_WRITE))]
CustomerReader = Annotated[Principal, Depends(require(Permission.CUSTOMERS_READ))]
RunId = Annotated[int, Path(ge=1, le=2**62)]
CustomerId = Annotated[str, Path(min_length=1, max_length=128)]


class FunnelOut(BaseModel):
    """One campaign's funnel, in customers: each stage keeps a subset of the one before."""

    campaign: str
    candidates: int
    excluded: dict[str, int] = Field(description="reason → customers excluded for it")
    held_out: int
    after_policy: int
    after_arbitration: int
    after_capacity: int = Field(description="the contacts")
    cost: str = Field(description="decimal, in the account's currency")


class RunOut(BaseModel):
    """A run (or a dry run: ``id`` null), what it decided, and its funnel."""

    id: int | None
    program: str
    status: str
    as_of: str
    resumed: bool = False
    contacts: int
    held_out: int
    cost: str
    notes: list[str] = []
    campaigns: list[FunnelOut]


class RunSummary(BaseModel):
    """A run in a list."""

    id: int
    program: str
    trigger: str
    status: str
    as_of: str
    contacts: int
    held_out: int
    cost: str


def _funnel(rows: list[FunnelRow]) -> list[FunnelOut]:
    return [
        FunnelOut(
            campaign=f.campaign,
            candidates=f.candidates,
            excluded=dict(f.excluded),
            held_out=f.held_out,
            after_policy=f.after_policy,
            after_arbitration=f.after_arbitration,
            after_capacity=f.after_capacity,
            cost=format(f.cost, "f"),
        )
        for f in rows
    ]


@router.post(
    "/programs/{name}/runs",
    response_model=RunOut,
    status_code=201,
    summary="Run a program now (or preview it)",
    responses={200: {"model": RunOut, "description": "A dry run: nothing was written"}},
)
def run_program(
    name: str,
    p: Writer,
    store: StoreDep,
    response: Response,
    dry_run: Annotated[bool, Query(description="Decide and report; write nothing")] = False,
) -> RunOut:
    """Decide every contact of the program and persist them, or only report with dry_run."""
    if dry_run:
        result = runs.preview(store, name)
        response.status_code = 200
    else:
        done = runs.run_program(store, name, actor=actor_of(p))
        if done is None:  # only scheduled slots can be taken already
            raise NotFound(f"program {name!r}: nothing to run")
        result = done
    return RunOut(
        id=result.run_id,
        program=result.program,
        status=result.status,
        as_of=result.as_of.isoformat(),
        resumed=result.resumed,
        contacts=result.contacts,
        held_out=result.held_out,
        cost=format(result.cost, "f"),
        notes=result.notes,
        campaigns=_funnel(result.funnel),
    )


@router.get("/runs", response_model=list[RunSummary], summary="The latest runs")
def list_runs(
    _p: Reader,
    session: SessionDep,
    program: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RunSummary]:
    """Newest first, optionally of one program."""
    return [
        RunSummary(
            id=r.id,
            program=r.program,
            trigger=r.trigger,
            status=r.status,
            as_of=r.as_of.isoformat(),
            contacts=r.contacts,
            held_out=r.held_out,
            cost=format(r.cost, "f"),
        )
        for r in runs.list_runs(session, program, limit)
    ]


@router.get("/runs/{run_id}", summary="One run with its funnel per campaign")
def get_run(run_id: RunId, _p: Reader, session: SessionDep) -> dict[str, Any]:
    """The run's record: trigger, times, status, attempts, totals and funnel."""
    return runs.run_view(session, runs.get_run(session, run_id))


@router.get(
    "/runs/{run_id}/customers/{customer_id}/explain",
    summary="Why a run contacted a customer or not",
)
def explain_run(
    run_id: RunId, customer_id: CustomerId, _p: Reader, _c: CustomerReader, store: StoreDep
) -> dict[str, Any]:
    """Every step for every campaign, with the rule and the numbers, and what was recorded."""
    return explain.explain_customer(store, customer_id, run_id=run_id).as_dict()


@router.get(
    "/programs/{name}/customers/{customer_id}/explain",
    summary="What a run of the program would do for a customer now",
)
def explain_program(
    name: str, customer_id: CustomerId, _p: Reader, _c: CustomerReader, store: StoreDep
) -> dict[str, Any]:
    """The same steps as for a run, decided now, without running anything."""
    return explain.explain_customer(store, customer_id, program=name).as_dict()
