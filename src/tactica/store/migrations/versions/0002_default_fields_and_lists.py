"""Default customer fields (contact points and consents) and the standard special lists.

A new workspace can contact customers by SMS, e-mail and phone from the start, and
keeps opt-outs, do-not-disturb, blacklist, VIP and complaints from day one. The
reverse removes exactly what this adds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FIELDS: list[tuple[str, str, str, str, str, Any]] = [
    # name, type, kind, channel, description, sql type
    ("msisdn", "text", "contact_point", "sms", "Mobile number", sa.Text()),
    ("email", "text", "contact_point", "email", "E-mail address", sa.Text()),
    ("consent_sms", "bool", "consent", "sms", "Agreed to SMS", sa.Boolean()),
    ("consent_email", "bool", "consent", "email", "Agreed to e-mail", sa.Boolean()),
    ("consent_phone", "bool", "consent", "phone", "Agreed to calls", sa.Boolean()),
]

LISTS = [
    ("opt_out", "opt_out", "Customers who asked not to be contacted (all channels or one)"),
    ("dnd", "dnd", "Do not disturb: excluded from contacts while the entry lasts"),
    ("blacklist", "blacklist", "Never contacted"),
    ("vip", "vip", "VIP whitelist: always eligible"),
    ("complaints", "complaint", "Customers who complained"),
]


def upgrade() -> None:
    fields = sa.table(
        "customer_fields",
        sa.column("name", sa.String),
        sa.column("type", sa.String),
        sa.column("kind", sa.String),
        sa.column("channel", sa.String),
        sa.column("categories", sa.JSON),
        sa.column("description", sa.Text),
        sa.column("position", sa.Integer),
    )
    with op.batch_alter_table("customers") as batch:
        for name, *_rest, sql_type in FIELDS:
            batch.add_column(sa.Column(name, sql_type, nullable=True))
    op.bulk_insert(
        fields,
        [
            {
                "name": name,
                "type": type_,
                "kind": kind,
                "channel": channel,
                "categories": [],
                "description": desc,
                "position": i,
            }
            for i, (name, type_, kind, channel, desc, _t) in enumerate(FIELDS)
        ],
    )
    lists = sa.table(
        "special_lists",
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
        sa.column("description", sa.Text),
    )
    op.bulk_insert(lists, [{"name": n, "kind": k, "description": d} for n, k, d in LISTS])


def downgrade() -> None:
    names = [f[0] for f in FIELDS]
    op.execute(
        sa.text("DELETE FROM customer_fields WHERE name IN :names").bindparams(
            sa.bindparam("names", names, expanding=True)
        )
    )
    op.execute(
        sa.text("DELETE FROM special_lists WHERE name IN :names").bindparams(
            sa.bindparam("names", [entry[0] for entry in LISTS], expanding=True)
        )
    )
    with op.batch_alter_table("customers") as batch:
        for name in names:
            batch.drop_column(name)
