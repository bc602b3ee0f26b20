"""The web application for people: pages over the same services as the API.

:func:`add_web` mounts the pages (``/ui/...``, ``/`` leads there) and their static
files (``/ui/static``, the front-end libraries vendored, never fetched from a CDN).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def add_web(app: FastAPI) -> None:
    """Serve the web pages and their static files from ``app``."""
    from tactica.web import dashboard_pages, sign_in, user_pages

    for module in (sign_in, dashboard_pages, user_pages):
        app.include_router(module.router)
    app.mount(
        "/ui/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
