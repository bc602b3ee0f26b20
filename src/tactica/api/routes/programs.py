"""Programs and contact policies: the same documents `tactica apply` reads, as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, actor_of, require
from tactica.domain.access import Permission
from tactica.domain.programs import ProgramStatus, legal_targets
from tactica.services import policies, programs
from tactica.services.users import Principal

router = APIRouter(tags=["programs"])
Reader = Annotated[Principal, Depends(require(Permission.PROGRAMS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.PROGRAMS_WRITE))]
Document = Annotated[
    dict[str, Any],
    Body(description="The document, as in YAML (see docs/programs.md)", max_length=500),
]


class ProgramOut(BaseModel):
    """A program: its status, the moves it may make, and its document."""

    name: str
    status: ProgramStatus
    can_become: list[ProgramStatus]
    document: dict[str, Any]


class Applied(BaseModel):
    """What saving a document did."""

    name: str
    result: str = Field(description="created, updated or unchanged")


class StatusIn(BaseModel):
    """A move in the program's life."""

    status: ProgramStatus


def _out(session: Any, name: str) -> ProgramOut:
    p = programs.get_program(session, name)
    return ProgramOut(
        name=p.name,
        status=ProgramStatus(p.status),
        can_become=list(legal_targets(p.status)),
        document=programs.program_data(session, p),
    )


@router.get("/programs", response_model=list[ProgramOut], summary="Every program")
def all_programs(_p: Reader, session: SessionDep) -> Any:
    """Every program with its status and document."""
    return [_out(session, p.name) for p in programs.list_programs(session)]


@router.put("/programs", response_model=Applied, summary="Create or replace a program")
def put_program(body: Document, p: Writer, session: SessionDep) -> Applied:
    """Save a program document; every problem is named by its place (422)."""
    result = programs.apply_program(session, body, actor=actor_of(p))
    session.commit()
    return Applied(name=str(body.get("name")), result=result)


@router.get("/programs/{name}", response_model=ProgramOut, summary="Show a program")
def get_program(name: str, _p: Reader, session: SessionDep) -> ProgramOut:
    """One program."""
    return _out(session, name)


@router.post("/programs/{name}/status", response_model=ProgramOut, summary="Move a program")
def move_program(name: str, body: StatusIn, p: Writer, session: SessionDep) -> ProgramOut:
    """Schedule, run, pause, complete or cancel: only legal moves (409 otherwise)."""
    programs.set_status(session, name, body.status.value, actor=actor_of(p))
    session.commit()
    return _out(session, name)


@router.delete("/programs/{name}", status_code=204, summary="Delete a program")
def delete_program(name: str, p: Writer, session: SessionDep) -> Response:
    """Remove a program that is not running or scheduled."""
    programs.delete_program(session, name, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)


@router.get("/policies", summary="Every contact policy")
def all_policies(_p: Reader, session: SessionDep) -> list[dict[str, Any]]:
    """Every policy as its document."""
    return policies.list_policies(session)


@router.put("/policies", response_model=Applied, summary="Create or replace a contact policy")
def put_policy(body: Document, p: Writer, session: SessionDep) -> Applied:
    """Save a policy document; every problem is named by its place (422)."""
    result = policies.apply_policy(session, body, actor=actor_of(p))
    session.commit()
    return Applied(name=str(body.get("name")), result=result)
