"""Dispatch: message templates, configured channels, the outbox and booked costs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "message_templates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint("name", "channel", "language", name="uq_message_template"),
    )
    op.create_table(
        "channels",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("rate_per_second", sa.Float(), nullable=True),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_base_seconds", sa.Float(), nullable=False),
        sa.Column("retry_cap_seconds", sa.Float(), nullable=False),
        sa.Column("cost_per_message", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("daily_capacity", sa.BigInteger(), nullable=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("refilled_at", _TS, nullable=True),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_channels_name")),
    )
    op.create_table(
        "outbox",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("contact_id", _ID, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        # No foreign key to contacts: the key has no index on contact_id, so every
        # deleted contact would scan the outbox; a worker drops an entry whose contact
        # is gone.
        sa.PrimaryKeyConstraint("channel", "due_at", "contact_id", name=op.f("pk_outbox")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("channel_name", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sent_at", _TS, nullable=True))
        batch.add_column(sa.Column("delivered_at", _TS, nullable=True))
        batch.add_column(sa.Column("provider_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("spent", sa.Numeric(precision=12, scale=4), nullable=True))
    op.create_table(
        "cost_bookings",
        sa.Column("program", sa.String(length=100), nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("booked", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("planned_sent", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("released", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.PrimaryKeyConstraint(
            "program", "campaign", "channel", "day", name=op.f("pk_cost_bookings")
        ),
    )


def downgrade() -> None:
    op.drop_table("cost_bookings")
    with op.batch_alter_table("contacts") as batch:
        for name in (
            "spent",
            "error",
            "provider_id",
            "delivered_at",
            "sent_at",
            "attempts",
            "channel_name",
        ):
            batch.drop_column(name)
    op.drop_table("outbox")
    op.drop_table("channels")
    op.drop_table("message_templates")
