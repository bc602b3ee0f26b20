"""The API client fixture of the API tests, for the template and channel routes."""

from __future__ import annotations

from tests.integration.api.conftest import api

__all__ = ["api"]
