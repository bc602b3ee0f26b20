"""The web application for people: pages over the same services as the API.

:func:`add_web` mounts the pages (``/ui/...``, ``/`` leads there) and their static
files (``/ui/static``, the front-end libraries vendored, never fetched from a CDN).
Every module of this package named ``*_pages`` is a section: its ``router`` holds
its pages, and its ``SECTION`` (when it has one) puts it in the navigation bar.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def page_modules() -> list[ModuleType]:
    """The modules that hold pages, in name order."""
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
        if info.name.endswith("_pages")
    ]


def add_web(app: FastAPI) -> None:
    """Serve the web pages and their static files from ``app``."""
    from tactica.web.render import Section, set_sections

    modules = page_modules()
    for module in modules:
        app.include_router(module.router)
    set_sections([m.SECTION for m in modules if isinstance(getattr(m, "SECTION", None), Section)])
    app.mount(
        "/ui/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
