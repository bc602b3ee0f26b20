"""Segments: create from a rule or an id list; size, profile, overlap; check a rule."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, StoreDep, actor_of, require
from tactica.domain.access import Permission
from tactica.errors import RuleError
from tactica.services import rules as rule_service
from tactica.services import segments
from tactica.services.users import Principal

router = APIRouter(tags=["segments"])
Reader = Annotated[Principal, Depends(require(Permission.SEGMENTS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.SEGMENTS_WRITE))]
CustomerId = Annotated[str, Field(min_length=1, max_length=128)]


class SegmentIn(BaseModel):
    """A new segment: a rule (dynamic) or customer ids (static)."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_-]*$")
    rule: str | None = Field(default=None, min_length=1, max_length=10000)
    ids: list[CustomerId] | None = Field(default=None, max_length=100000)
    description: str = Field(default="", max_length=2000)


class SegmentPatch(BaseModel):
    """Changes to a segment."""

    rule: str | None = Field(default=None, min_length=1, max_length=10000)
    description: str | None = Field(default=None, max_length=2000)


class SegmentOut(BaseModel):
    """A segment and its current size."""

    name: str
    kind: str
    rule: str | None
    description: str
    created_by: str | None
    size: int


class MembersIn(BaseModel):
    """Customer ids to add to a static segment."""

    ids: list[CustomerId] = Field(min_length=1, max_length=100000)


class RuleIn(BaseModel):
    """A rule to check."""

    rule: str = Field(max_length=10000)


class RuleProblemOut(BaseModel):
    """Where a rule is wrong."""

    message: str
    line: int
    col: int


class RuleCheckOut(BaseModel):
    """Whether a rule is valid, its type, and how many customers it selects."""

    valid: bool
    type: str | None = None
    size: int | None = None
    problems: list[RuleProblemOut] = []


def _out(session: Any, seg: Any) -> dict[str, Any]:
    return segments.segment_view(seg, segments.segment_size(session, seg.name))


@router.get("/segments", response_model=list[SegmentOut], summary="Every segment")
def all_segments(_p: Reader, session: SessionDep) -> Any:
    """Every segment with its size."""
    return [_out(session, s) for s in segments.list_segments(session)]


@router.post("/segments", response_model=SegmentOut, status_code=201, summary="Create a segment")
def create_segment(body: SegmentIn, p: Writer, session: SessionDep) -> Any:
    """A dynamic segment from a rule, or a static one from customer ids."""
    seg = segments.create_segment(
        session,
        body.name,
        rule=body.rule,
        ids=body.ids,
        description=body.description,
        actor=actor_of(p),
    )
    session.commit()
    return _out(session, seg)


@router.get("/segments/overlap", summary="How two segments overlap")
def overlap(
    _p: Reader,
    session: SessionDep,
    a: Annotated[str, Query(max_length=100)],
    b: Annotated[str, Query(max_length=100)],
) -> dict[str, int]:
    """Sizes of a, b, both, either, only a, only b."""
    return segments.overlap(session, a, b)


@router.get("/segments/{name}", response_model=SegmentOut, summary="Show a segment")
def get_segment(name: str, _p: Reader, session: SessionDep) -> Any:
    """One segment and its size."""
    return _out(session, segments.get_segment(session, name))


@router.patch("/segments/{name}", response_model=SegmentOut, summary="Change a segment")
def patch_segment(name: str, body: SegmentPatch, p: Writer, session: SessionDep) -> Any:
    """Change the rule or the description."""
    seg = segments.update_segment(
        session, name, rule=body.rule, description=body.description, actor=actor_of(p)
    )
    session.commit()
    return _out(session, seg)


@router.delete("/segments/{name}", status_code=204, summary="Delete a segment")
def delete_segment(name: str, p: Writer, session: SessionDep) -> Response:
    """Remove a segment (refused while another segment's rule uses it)."""
    segments.delete_segment(session, name, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)


@router.post("/segments/{name}/members", summary="Add customers to a static segment")
def add_members(name: str, body: MembersIn, p: Writer, session: SessionDep) -> dict[str, int]:
    """Add customers (every id must exist); returns how many were new."""
    n = segments.add_members(session, name, body.ids, actor=actor_of(p))
    session.commit()
    return {"added": n}


@router.get("/segments/{name}/profile", summary="What a segment looks like")
def profile(
    name: str,
    _p: Reader,
    session: SessionDep,
    store: StoreDep,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    """Counts per category, quantiles per number, share with each consent and contact point."""
    return segments.profile(store, session, name, top=top)


@router.post("/rules/check", response_model=RuleCheckOut, summary="Check a rule")
def check_rule(body: RuleIn, _p: Reader, session: SessionDep) -> RuleCheckOut:
    """Parse and type-check a rule; when it is a valid condition, size it too."""
    try:
        checked = rule_service.check_rule(session, body.rule, where="rule", expect=None)
    except RuleError as e:
        return RuleCheckOut(
            valid=False,
            problems=[
                RuleProblemOut(message=p.message, line=p.line, col=p.col) for p in e.problems
            ],
        )
    type_ = rule_service.rule_type(checked)
    size = segments.rule_size(session, body.rule) if type_ == "bool" else None
    return RuleCheckOut(valid=True, type=type_, size=size)
