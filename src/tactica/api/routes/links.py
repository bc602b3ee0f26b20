"""Tracked links: ``GET /r/{token}`` counts the click and redirects to the address.

No login: the signed token is the authority, and the address it redirects to is the
one signed into it, so the route is no open redirect. A token we did not make gets a
short 404 page and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tactica.config import Settings
from tactica.errors import InvalidInput
from tactica.services import links
from tactica.store.db import Store

router = APIRouter(tags=["links"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    302: {"description": "The click is counted; go to the address the link was made for"},
    404: {"content": {"text/html": {}}, "description": "Not a link Tactica made"},
}

_NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Link not found</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto; padding: 0 1em">
<h1 style="font-size: 1.4em">Link not found</h1>
<p>This link is not valid: it may have been cut or changed. Try the link in the
message again, or copy all of it into the address bar.</p>
</body></html>
"""


@router.get(
    "/r/{token}",
    status_code=302,
    response_class=RedirectResponse,
    responses=_RESPONSES,
    summary="Follow a tracked link (public, no token needed)",
)
def follow(token: str, request: Request) -> Response:
    """Redirect to the link's address; the contact's first click is taken as a response."""
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    try:
        url = links.follow_link(store, token, secret=settings.secret)
    except InvalidInput:
        return HTMLResponse(_NOT_FOUND, status_code=404)
    return RedirectResponse(url, status_code=302)
