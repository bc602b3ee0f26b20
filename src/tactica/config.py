"""Settings: one class, read from the environment (``TACTICA_*``).

``TACTICA_HOME`` names the workspace folder (default ``~/.tactica``): the embedded
SQLite database, the secret key and exports live there. ``TACTICA_DATABASE_URL``
points the store at another database, e.g.
``postgresql+psycopg://user@host:5432/tactica``.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything Tactica reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="TACTICA_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".tactica")
    database_url: str | None = None
    secret_key: str | None = None
    api_token_ttl_days: int = 365
    #: The batch engine's working-memory limit (e.g. "4GB"); past it, it spills to a
    #: temporary folder rather than grow. None: DuckDB's default, 80 % of the memory.
    engine_memory: str | None = None
    #: Where people reach this installation: the base of the links put in messages
    #: (unsubscribe links). ``TACTICA_PUBLIC_URL``.
    public_url: str = "http://127.0.0.1:8000"
    #: The customer attribute that is a lead's territory, matched against the reps'
    #: territories when a program assigns by territory (ignored when no such field is
    #: declared). ``TACTICA_LEAD_TERRITORY_FIELD``.
    lead_territory_field: str = "region"
    #: What a reply that says STOP opts the customer out of: the channel it came on
    #: (``channel``) or every channel (``all``). ``TACTICA_OPT_OUT_SCOPE``.
    opt_out_scope: Literal["channel", "all"] = "channel"
    #: ``tactica serve`` also takes e-mail replies over SMTP on this port when it is set
    #: (``TACTICA_INBOUND_SMTP_PORT``), on ``TACTICA_INBOUND_SMTP_HOST``.
    inbound_smtp_port: int | None = Field(default=None, ge=0, le=65535)
    inbound_smtp_host: str = "127.0.0.1"
    #: The Redis that ``tactica events consume`` and ``publish`` use by default
    #: (``TACTICA_REDIS_URL``).
    redis_url: str = "redis://127.0.0.1:6379/0"

    @field_validator("database_url")
    @classmethod
    def _fix_driver(cls, v: str | None) -> str | None:
        # Operators paste URLs from other tools; route plain postgres URLs to psycopg 3.
        if v and v.startswith(("postgres://", "postgresql://")):
            return "postgresql+psycopg://" + v.split("://", 1)[1]
        return v

    @property
    def db_url(self) -> str:
        """The store's SQLAlchemy URL: the explicit one, or SQLite in the workspace."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'tactica.db'}"

    @property
    def is_sqlite(self) -> bool:
        """True when the store is the embedded SQLite database."""
        return self.db_url.startswith("sqlite")

    @cached_property
    def secret(self) -> str:
        """Key for signing; from ``TACTICA_SECRET_KEY`` or a file made once in the workspace."""
        if self.secret_key:
            return self.secret_key
        path = self.home / "secret.key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            os.chmod(path, 0o600)
        return path.read_text().strip()

    def ensure_home(self) -> Path:
        """Create the workspace folder if needed and return it."""
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


def get_settings() -> Settings:
    """Fresh settings from the current environment (cheap; no caching so tests can vary it)."""
    return Settings()
