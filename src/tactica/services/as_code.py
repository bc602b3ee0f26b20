"""Marketing as code: offers, contact policies and programs kept in YAML files,
reviewed in git, applied with ``tactica apply -f`` and written back with ``tactica export``.

A file holds one or more documents (``---`` between them), each with a ``kind``::

    kind: Offer
    code: TD-12M
    name: 12-month term deposit
    value: 180
    eligibility: "age >= 18"
    ---
    kind: MessageTemplate
    name: deposit-sms
    channel: sms
    language: en
    body: "Hi {{ customer.first_name }}, {{ offer.name }} is waiting for you."
    ---
    kind: Channel
    name: gateway
    adapter: sms_http
    settings: {url: "https://sms.example.com", api_key: "..."}
    ---
    kind: ContactPolicy
    name: default
    rules: [...]
    ---
    kind: EventType
    name: top_up
    fields: {amount: float, channel: category}
    required: [amount]
    ---
    kind: Program
    name: spring-deposits
    campaigns: [...]
    ---
    kind: Team
    name: marketing
    lead: dana
    members: [{username: mia, title: Channel lead, reports_to: dana}]
    ---
    kind: MarketSize
    period: "2026"
    size: 2500000
    ---
    kind: Objective
    name: revenue-2026
    kpi: revenue
    period: "2026"
    target: 120000
    owner_team: marketing

Applying is all or nothing: every document is checked, in the order offers,
templates, channels, policies, event types, programs, teams, market sizes,
objectives (so a program may use an offer or a template defined in the same file,
and a goal the team above it), in one transaction; any problem names the
file, the document and the field. Export writes channel secrets as ``********``;
applying the mask keeps the secret already saved (see
:func:`tactica.services.channel_configs.save_channel`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from tactica.domain.channel_config import read_spec
from tactica.domain.templates import MessageTemplate
from tactica.errors import InvalidInput, NotFound, TacticaError
from tactica.services import (
    channel_configs,
    event_types,
    offers,
    plan_as_code,
    policies,
    programs,
    templates,
)

# Applied in this order, so that later kinds may use what earlier ones define.
KINDS = (
    "Offer",
    "MessageTemplate",
    "Channel",
    "ContactPolicy",
    "EventType",
    "Program",
    "Team",
    "MarketSize",
    "Objective",
    "Plan",
)
_OFFER_FIELDS = {f.name for f in fields(offers.OfferInput)}
_TEMPLATE_FIELDS = tuple(f.name for f in fields(MessageTemplate))


@dataclass(frozen=True)
class Applied:
    """What applying one document did."""

    kind: str
    name: str
    result: str  # created, updated, unchanged


class _Loader(yaml.SafeLoader):
    """The safe loader, naming the line of a day that does not exist (2026-02-30)."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as e:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a day ({e})", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The documents of a YAML file; InvalidInput names the file and the line of a YAML error."""
    if not path.is_file():
        raise NotFound(f"no file {path}")
    try:
        text = path.read_text(encoding="utf-8")
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"line {mark.line + 1}, col {mark.column + 1}: " if mark is not None else ""
        raise InvalidInput(
            f"{at}not valid YAML ({getattr(e, 'problem', e)})", where=str(path)
        ) from None
    except UnicodeDecodeError as e:
        raise InvalidInput(f"not UTF-8 text (byte {e.start})", where=str(path)) from None
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or d.get("kind") not in KINDS:
            kinds = ", ".join(f"'kind: {k}'" for k in KINDS[:-1])
            raise InvalidInput(
                f"document {i + 1}: needs {kinds} or 'kind: {KINDS[-1]}'", where=str(path)
            )
    return docs


def _offer_input(raw: Mapping[str, Any], where: str) -> offers.OfferInput:
    unknown = set(raw) - _OFFER_FIELDS
    if unknown:
        raise InvalidInput(
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"an offer takes {', '.join(sorted(_OFFER_FIELDS))}",
            where=where,
        )
    data: dict[str, Any] = dict(raw)
    for key in ("price", "value", "margin", "discount_min", "discount_max"):
        if key in data:
            try:
                data[key] = Decimal(str(data[key]))
            except InvalidOperation:
                raise InvalidInput(
                    f"an amount, got {data[key]!r}", where=f"{where}.{key}"
                ) from None
    for key in ("valid_from", "valid_to"):
        if isinstance(data.get(key), str):
            try:
                data[key] = date.fromisoformat(data[key])
            except ValueError:
                raise InvalidInput(
                    f"a date like 2026-12-31, got {data[key]!r}", where=f"{where}.{key}"
                ) from None
    for key in ("code", "name"):
        if not isinstance(data.get(key), str):
            raise InvalidInput("text is required", where=f"{where}.{key}")
    return offers.OfferInput(**data)


def _apply_offer(session: Session, raw: Mapping[str, Any], where: str, actor: str) -> str:
    data = _offer_input(raw, where)
    try:
        current = offers.get_offer(session, data.code)
    except NotFound:
        offers.create_offer(session, data, actor=actor)
        return "created"
    changes = {
        k: getattr(data, k)
        for k in _OFFER_FIELDS - {"code"}
        if getattr(current, k) != getattr(data, k)
    }
    if not changes:
        return "unchanged"
    offers.update_offer(session, data.code, changes, actor=actor)
    return "updated"


def _template(raw: Mapping[str, Any], where: str) -> MessageTemplate:
    unknown = set(raw) - set(_TEMPLATE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"a template takes {', '.join(_TEMPLATE_FIELDS)}",
            where=where,
        )
    for key in ("name", "channel", "language", "body"):
        if not isinstance(raw.get(key), str):
            raise InvalidInput(f"text is required, got {raw.get(key)!r}", where=f"{where}.{key}")
    subject = raw.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise InvalidInput(f"text, got {subject!r}", where=f"{where}.subject")
    return MessageTemplate(raw["name"], raw["channel"], raw["language"], subject, raw["body"])


def _apply_channel(session: Session, raw: Mapping[str, Any], actor: str) -> tuple[str, str]:
    # ``kind`` names the document's kind, so a channel document calls its kind "adapter",
    # and so do the problems reported about it.
    data = {("kind" if k == "adapter" else k): v for k, v in raw.items()}
    try:
        spec, problems = read_spec(data)
        if spec is None:
            raise InvalidInput(
                "has problems:\n- " + "\n- ".join(problems), where=f"channel {raw.get('name')!r}"
            )
        return spec.name, channel_configs.save_channel(session, spec, actor=actor)
    except InvalidInput as e:
        raise InvalidInput(re.sub(r"\bkind(s?)\b", r"adapter\1", e.detail)) from None


def apply_documents(
    session: Session, docs: list[dict[str, Any]], *, source: str, actor: str
) -> list[Applied]:
    """Apply documents in the caller's transaction, kind by kind in the order of KINDS."""
    out: list[Applied] = []
    order = sorted(range(len(docs)), key=lambda i: KINDS.index(docs[i]["kind"]))
    for i in order:
        raw = {k: v for k, v in docs[i].items() if k != "kind"}
        kind = docs[i]["kind"]
        where = f"{source}, document {i + 1} ({kind})"
        try:
            if kind == "Offer":
                out.append(
                    Applied(kind, str(raw.get("code")), _apply_offer(session, raw, where, actor))
                )
            elif kind == "MessageTemplate":
                t = _template(raw, "template")
                result = templates.apply_template(session, t, actor=actor)
                out.append(Applied(kind, f"{t.name} ({t.channel}, {t.language})", result))
            elif kind == "Channel":
                out.append(Applied(kind, *_apply_channel(session, raw, actor)))
            elif kind == "ContactPolicy":
                result = policies.apply_policy(session, raw, actor=actor, where="policy")
                out.append(Applied(kind, str(raw.get("name")), result))
            elif kind == "EventType":
                ty = event_types.parse_event_type(raw, "event type")
                result = event_types.save_event_type(session, ty, actor=actor)
                out.append(Applied(kind, ty.name, result))
            elif kind == "Program":
                result = programs.apply_program(session, raw, actor=actor, where="program")
                out.append(Applied(kind, str(raw.get("name")), result))
            else:
                name, result = plan_as_code.apply(session, kind, raw, actor=actor)
                out.append(Applied(kind, name, result))
        except InvalidInput as e:
            # The service names the field; the file and the document go in front of it.
            raise InvalidInput(e.detail, where=where) from None
        except TacticaError as e:
            raise type(e)(f"{where}: {e.detail}") from None
    return out


def apply_file(session: Session, path: Path, *, actor: str) -> list[Applied]:
    """Apply every document of a YAML file, all or nothing (the caller commits)."""
    return apply_documents(session, load_documents(path), source=str(path), actor=actor)


def export_documents(session: Session) -> str:
    """Every offer, template, channel, policy and program as one multi-document YAML text.

    Channel secrets are written as the mask, never in clear.
    """
    docs: list[dict[str, Any]] = []
    for o in offers.list_offers(session):
        view = offers.offer_view(o)
        view.pop("id", None)
        clean = {
            k: (str(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, date) else v)
            for k, v in view.items()
            if v is not None
        }
        docs.append({"kind": "Offer", **clean})
    for t in templates.list_templates(session):
        doc = {k: v for k, v in templates.template_view(t).items() if k != "sms_length"}
        docs.append({"kind": "MessageTemplate", **{k: v for k, v in doc.items() if v is not None}})
    for spec in channel_configs.list_channels(session):
        view = channel_configs.channel_view(spec)
        view = {("adapter" if k == "kind" else k): v for k, v in view.items()}
        docs.append(
            {
                "kind": "Channel",
                **{
                    k: str(v) if isinstance(v, Decimal) else v
                    for k, v in view.items()
                    if v is not None
                },
            }
        )
    for pol in policies.list_policies(session):
        docs.append({"kind": "ContactPolicy", **pol})
    for et in event_types.list_event_types(session):
        docs.append({"kind": "EventType", **event_types.event_type_data(et)})
    for p in programs.list_programs(session):
        docs.append({"kind": "Program", **programs.program_data(session, p)})
    docs.extend(plan_as_code.export(session))
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


class _Dumper(yaml.SafeDumper):
    """The safe dumper, writing text of several lines (a template's body) as a block."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted scalar by itself when a block cannot hold the text
    # exactly (trailing spaces, for instance), so this never changes what is read back.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
