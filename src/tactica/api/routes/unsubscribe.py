"""The unsubscribe link's two pages: confirm (GET) and act (POST, RFC 8058 one-click).

No login: the signed token is the authority. GET never unsubscribes anyone, because
mail scanners and link previews fetch links nobody clicked; it shows a button that
POSTs back. Mail clients that offer one-click unsubscribe POST the body
``List-Unsubscribe=One-Click`` to the same address, which is accepted as is (any body
is: the token alone decides).
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy.exc import IntegrityError

from tactica.api.deps import SessionDep
from tactica.config import Settings
from tactica.errors import InvalidInput
from tactica.services import unsubscribe as links

router = APIRouter(tags=["unsubscribe"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "A short page for the customer"},
    400: {"content": {"text/plain": {}}, "description": "The link is not valid"},
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto; padding: 0 1em">
<h1 style="font-size: 1.4em">{title}</h1>
{content}
</body></html>
"""

_CHANNEL_WORDS = {"email": "e-mails", "sms": "text messages", "phone": "calls"}


def _secret(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.secret


def _page(title: str, content: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), content=content))


def _bad(e: InvalidInput) -> PlainTextResponse:
    return PlainTextResponse(e.detail, status_code=400)


@router.get(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses=_RESPONSES,
    summary="Confirm unsubscribing (public, no token needed)",
)
def confirm_page(token: str, request: Request) -> Response:
    """A page with one button that unsubscribes; nothing changes until it is pressed."""
    try:
        _customer, channel = links.read_token(token, secret=_secret(request))
    except InvalidInput as e:
        return _bad(e)
    what = _CHANNEL_WORDS.get(channel, f"{channel} messages")
    form = (
        f"<p>Stop receiving our {escape(what)}?</p>\n"
        f'<form method="post" action="{escape(token)}">\n'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">\n'
        '<button type="submit">Unsubscribe</button>\n</form>'
    )
    return _page("Unsubscribe", form)


@router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses=_RESPONSES,
    summary="Unsubscribe (public, RFC 8058 one-click)",
)
def unsubscribe(token: str, request: Request, session: SessionDep) -> Response:
    """Put the link's customer on the opt-out list for its channel; again changes nothing."""
    try:
        _customer, channel = links.read_token(token, secret=_secret(request))
        links.unsubscribe(session, token, secret=_secret(request))
        session.commit()
    except InvalidInput as e:
        return _bad(e)
    except IntegrityError:
        # Two clicks at once: the other one put the entry there first.
        session.rollback()
    what = _CHANNEL_WORDS.get(channel, f"{channel} messages")
    return _page("You are unsubscribed", f"<p>You will not receive our {escape(what)} again.</p>")
