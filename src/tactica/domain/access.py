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
    #: A machine that sends events (a billing system, a data platform): nothing else.
    INTEGRATION = "integration"


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
    RESPONSES_READ = "responses:read"
    RESPONSES_WRITE = "responses:write"
    LEADS_READ = "leads:read"
    LEADS_WRITE = "leads:write"
    SALES_ADMIN = "sales:admin"
    ORDERS_READ = "orders:read"
    ORDERS_APPROVE = "orders:approve"
    EVENTS_READ = "events:read"
    EVENTS_WRITE = "events:write"
    PLANS_READ = "plans:read"
    PLANS_WRITE = "plans:write"


_READ_ALL = {
    Permission.PROGRAMS_READ,
    Permission.CUSTOMERS_READ,
    Permission.SEGMENTS_READ,
    Permission.OFFERS_READ,
    Permission.LISTS_READ,
    Permission.RESPONSES_READ,
    Permission.LEADS_READ,
    Permission.ORDERS_READ,
    Permission.EVENTS_READ,
    Permission.PLANS_READ,
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
            Permission.RESPONSES_WRITE,
            Permission.EVENTS_WRITE,
            Permission.SALES_ADMIN,
            # The marketing director's plan: teams, goals, market sizes.
            Permission.PLANS_WRITE,
            # Marketers own offers and their discount bounds, so they approve exceptions.
            Permission.ORDERS_APPROVE,
        }
    ),
    # Analysts read everything marketing holds, including who changed what.
    Role.ANALYST: frozenset(_READ_ALL | {Permission.AUDIT_READ}),
    # Sales reps see customers and offers to work their leads, and record opt-outs they
    # hear; they ask for discounts but never approve their own.
    Role.SALES_REP: frozenset(
        {
            Permission.CUSTOMERS_READ,
            Permission.OFFERS_READ,
            Permission.LISTS_READ,
            Permission.LISTS_WRITE,
            Permission.RESPONSES_READ,
            Permission.LEADS_READ,
            Permission.LEADS_WRITE,
            Permission.ORDERS_READ,
            # Reps see the goals they are held to.
            Permission.PLANS_READ,
        }
    ),
    Role.INTEGRATION: frozenset({Permission.EVENTS_WRITE}),
}


def allows(role: Role | str, permission: Permission) -> bool:
    """True when ``role`` has ``permission``."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
