"""The dashboard's rollup: ``daily_figures``, kept by triggers, filled from the records.

See :mod:`tactica.store.daily_figures` for what it holds and how the triggers keep
it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from tactica.store.daily_figures import (
    AMOUNTS,
    COUNTS,
    KEYS,
    create_triggers,
    drop_triggers,
    rebuild_sql,
)

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_figures",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("program", sa.String(length=100), nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("offer", sa.String(length=64), nullable=False),
        *[sa.Column(name, sa.BigInteger(), nullable=False, server_default="0") for name in COUNTS],
        *[
            sa.Column(name, sa.Numeric(18, 4), nullable=False, server_default="0")
            for name in AMOUNTS
        ],
        sa.PrimaryKeyConstraint(
            "day", "program", "campaign", "channel", "offer", name=op.f("pk_daily_figures")
        ),
    )
    # PostgreSQL's triggers append here (no key: inserts never wait on each other).
    op.create_table(
        "daily_figures_delta",
        *[
            sa.Column(name, sa.String(length=n), nullable=False)
            for name, n in zip(KEYS, (10, 100, 100, 16, 64), strict=True)
        ],
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTS],
        *[sa.Column(name, sa.Numeric(18, 4), nullable=False) for name in AMOUNTS],
    )
    dialect = op.get_bind().dialect.name
    for stmt in rebuild_sql(dialect):
        op.execute(stmt)
    for stmt in create_triggers(dialect):
        op.execute(stmt)


def downgrade() -> None:
    for stmt in drop_triggers(op.get_bind().dialect.name):
        op.execute(stmt)
    op.drop_table("daily_figures_delta")
    op.drop_table("daily_figures")
