"""Message templates: save, list, show, remove and preview what a contact says.

A template has one variant per (channel, language), all under one name; a campaign
names the template and each customer gets the variant of their language
(:func:`tactica.domain.templates.pick_template`). Every variant is checked against
the declared customer fields when it is saved, so a typo fails here, with its line,
and not at send time.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.sms import sms_length
from tactica.domain.templates import (
    OFFER_FIELDS,
    MessageTemplate,
    TemplateRenderError,
    compile_template,
    pick_template,
    template_problems,
)
from tactica.errors import InvalidInput, NotFound
from tactica.services import audit, customers, offers
from tactica.services.links import PREVIEW_CONTACT, link_maker
from tactica.services.unsubscribe import DEFAULT_BASE_URL, unsubscribe_url
from tactica.store.models import MessageTemplate as TemplateRow

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _describe(name: str, channel: str, language: str) -> str:
    return f"template {name!r} ({channel}, {language})"


def _domain(row: TemplateRow) -> MessageTemplate:
    return MessageTemplate(row.name, row.channel, row.language, row.subject, row.body)


def _length_view(text: str) -> dict[str, Any]:
    return asdict(sms_length(text))


def template_view(t: MessageTemplate) -> dict[str, Any]:
    """A variant as shown to people; an SMS one with the length of its body as written.

    ``sms_length`` (encoding, units, segments, per_segment, remaining) counts the
    template text itself: the placeholders, not what they become — see :func:`preview`
    for a real message.
    """
    return {
        "name": t.name,
        "channel": t.channel,
        "language": t.language,
        "subject": t.subject,
        "body": t.body,
        "sms_length": _length_view(t.body) if t.channel == "sms" else None,
    }


def _rows(
    session: Session, name: str | None = None, channel: str | None = None
) -> list[TemplateRow]:
    q = sa.select(TemplateRow).order_by(TemplateRow.name, TemplateRow.channel, TemplateRow.language)
    if name is not None:
        q = q.where(TemplateRow.name == name)
    if channel is not None:
        q = q.where(TemplateRow.channel == channel)
    return list(session.scalars(q))


def list_templates(
    session: Session, *, name: str | None = None, channel: str | None = None
) -> list[MessageTemplate]:
    """Every variant by name, channel and language; only one name's or channel's if given."""
    return [_domain(r) for r in _rows(session, name, channel)]


def template_summaries(
    session: Session, *, limit: int, offset: int = 0, body_chars: int = 80
) -> list[dict[str, Any]]:
    """A page of variants by name, channel and language, each with the start of its body
    (``body_start``: at most ``body_chars`` characters, cut by the database so a long
    body is not read whole) and ``body_more`` when the body goes on."""
    q = (
        sa.select(
            TemplateRow.name,
            TemplateRow.channel,
            TemplateRow.language,
            TemplateRow.subject,
            sa.func.substr(TemplateRow.body, 1, body_chars).label("body_start"),
            (sa.func.length(TemplateRow.body) > body_chars).label("body_more"),
        )
        .order_by(TemplateRow.name, TemplateRow.channel, TemplateRow.language)
        .limit(limit)
        .offset(offset)
    )
    return [dict(r) | {"body_more": bool(r.body_more)} for r in session.execute(q).mappings()]


def variant_keys(session: Session) -> list[tuple[str, str, str]]:
    """Every variant's (name, channel, language), in order, to choose one (bodies unread)."""
    q = sa.select(TemplateRow.name, TemplateRow.channel, TemplateRow.language).order_by(
        TemplateRow.name, TemplateRow.channel, TemplateRow.language
    )
    return [(r.name, r.channel, r.language) for r in session.execute(q)]


def _row(session: Session, name: str, channel: str, language: str) -> TemplateRow | None:
    return session.scalar(
        sa.select(TemplateRow).where(
            TemplateRow.name == name,
            TemplateRow.channel == channel,
            TemplateRow.language == language,
        )
    )


def _missing(session: Session, name: str, channel: str, language: str) -> NotFound:
    variants = [f"{t.channel}/{t.language}" for t in list_templates(session, name=name)]
    have = f"; it has {', '.join(variants)}" if variants else ""
    return NotFound(f"no {_describe(name, channel, language)}{have}")


def get_template(session: Session, name: str, channel: str, language: str) -> MessageTemplate:
    """The variant of ``name`` for ``channel`` and ``language``; NotFound names the others."""
    row = _row(session, name, channel, language)
    if row is None:
        raise _missing(session, name, channel, language)
    return _domain(row)


def check_template(session: Session, t: MessageTemplate) -> None:
    """Raise InvalidInput listing every problem of ``t`` (each with its line); None if none.

    Fields are checked against the customer schema as declared now.
    """
    problems: list[str] = []
    if t.name.strip() and not _NAME.match(t.name):
        problems.append(
            "name: letters, digits, '_', '.' or '-', at most 100, starting with a letter or digit"
        )
    declared = [f.name for f in customers.list_fields(session)]
    problems += template_problems(t, declared)
    if problems:
        raise InvalidInput(
            "has problems:\n- " + "\n- ".join(problems),
            where=_describe(t.name, t.channel, t.language),
        )


def apply_template(session: Session, t: MessageTemplate, *, actor: str) -> str:
    """Create or replace the (name, channel, language) variant; created, updated or unchanged."""
    check_template(session, t)
    row = _row(session, t.name, t.channel, t.language)
    key = f"{t.name}/{t.channel}/{t.language}"
    if row is None:
        session.add(TemplateRow(**asdict(t)))
        session.flush()
        audit.record(session, actor, "create", "message_template", key, None, template_view(t))
        return "created"
    before = _domain(row)
    if before == t:
        return "unchanged"
    row.subject, row.body = t.subject, t.body
    session.flush()
    audit.record(
        session,
        actor,
        "update",
        "message_template",
        key,
        template_view(before),
        template_view(t),
    )
    return "updated"


def save_template(session: Session, t: MessageTemplate, *, actor: str) -> dict[str, Any]:
    """Create or replace a variant after checking it; returns its view.

    InvalidInput names the template and every problem with its place and line, e.g.
    ``template 'welcome' (sms, en): has problems: - body, line 2: unknown customer
    field 'frist_name'; ...``.
    """
    apply_template(session, t, actor=actor)
    return template_view(t)


def delete_template(
    session: Session, name: str, channel: str, language: str, *, actor: str
) -> None:
    """Remove one variant of a template."""
    row = _row(session, name, channel, language)
    if row is None:
        raise _missing(session, name, channel, language)
    before = template_view(_domain(row))
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "delete", "message_template", f"{name}/{channel}/{language}", before
    )


def _offer_fields(session: Session, code: str | None) -> dict[str, Any]:
    """The offer a preview shows: the one named, else the first by code, else none."""
    if code is not None:
        o = offers.get_offer(session, code)
    else:
        every = offers.list_offers(session)
        if not every:
            return {}
        o = every[0]
    return {f: getattr(o, f) for f in OFFER_FIELDS}


def preview(
    session: Session,
    name: str,
    channel: str,
    customer_id: str,
    *,
    offer_code: str | None = None,
    language: str | None = None,
    campaign: str = "preview",
    secret: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
) -> dict[str, Any]:
    """The message a real customer would get: ``name`` on ``channel``, filled in.

    The variant is the one picked for ``language`` (default: the customer's own);
    fields come from the customer's row and from the offer ``offer_code`` (default:
    the first offer by code). An e-mail preview renders ``unsubscribe_url`` as a real
    link signed with ``secret`` at ``base_url``. An SMS preview counts the rendered
    body (``sms_length``). InvalidInput when the template cannot be filled in for
    this customer and offer.
    """
    variants = list_templates(session, name=name, channel=channel)
    customer = customers.get_customer(session, customer_id)
    wanted = language or customer.get("language")
    picked = pick_template(variants, channel, wanted if isinstance(wanted, str) else None)
    if picked is None:
        others = sorted({t.channel for t in list_templates(session, name=name)})
        have = f"; it has {', '.join(others)}" if others else ""
        raise NotFound(f"template {name!r} has no {channel} variant{have}")
    offer = _offer_fields(session, offer_code)
    link = None
    if channel == "email":
        if secret is None:
            raise InvalidInput("an e-mail preview needs the key that signs unsubscribe links")
        link = unsubscribe_url(secret, base_url, customer_id, channel)
    # Tracked links as long as real ones (SMS length counts them), for no contact: a
    # preview's link redirects like a real one and counts for nobody.
    track = link_maker(secret or "preview", base_url, PREVIEW_CONTACT, channel)
    try:
        message = compile_template(picked).render(customer, offer, campaign, link, track)
    except TemplateRenderError as e:
        hint = "" if offer else " (there is no offer yet to fill offer fields with)"
        raise InvalidInput(f"{e}{hint}", where="preview") from None
    return {
        "name": picked.name,
        "channel": picked.channel,
        "language": picked.language,
        "customer_id": customer_id,
        "offer": offer.get("code"),
        "campaign": campaign,
        "subject": message.subject,
        "body": message.body,
        "sms_length": _length_view(message.body) if channel == "sms" else None,
        "unsubscribe_url": link,
    }
