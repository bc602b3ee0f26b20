"""Who may do what: roles and the permissions each one has.

The API, the web pages and any other entry point check the same table, so a
rule changes in one place.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role."""

    ADMIN = "admin"
    MARKETER = "marketer"
    SALES_REP = "sales_rep"
    ANALYST = "analyst"


class Permission(StrEnum):
    """An action on a subject."""

    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    SEGMENTS_READ = "segments:read"
    SEGMENTS_WRITE = "segments:write"
    OFFERS_READ = "offers:read"
    OFFERS_WRITE = "offers:write"
    LISTS_READ = "lists:read"
    LISTS_WRITE = "lists:write"
    PROGRAMS_READ = "programs:read"
    PROGRAMS_WRITE = "programs:write"
    USERS_ADMIN = "users:admin"
    AUDIT_READ = "audit:read"


_READ_ALL = {
    Permission.PROGRAMS_READ,
    Permission.CUSTOMERS_READ,
    Permission.SEGMENTS_READ,
    Permission.OFFERS_READ,
    Permission.LISTS_READ,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MARKETER: frozenset(
        _READ_ALL
        | {
            Permission.CUSTOMERS_WRITE,
            Permission.SEGMENTS_WRITE,
            Permission.OFFERS_WRITE,
            Permission.LISTS_WRITE,
            Permission.PROGRAMS_WRITE,
        }
    ),
    # Analysts read everything marketing holds, including who changed what.
    Role.ANALYST: frozenset(_READ_ALL | {Permission.AUDIT_READ}),
    # Sales reps see customers and offers to work their leads, and record opt-outs they hear.
    Role.SALES_REP: frozenset(
        {
            Permission.CUSTOMERS_READ,
            Permission.OFFERS_READ,
            Permission.LISTS_READ,
            Permission.LISTS_WRITE,
        }
    ),
}


def allows(role: Role | str, permission: Permission) -> bool:
    """True when ``role`` has ``permission``."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
