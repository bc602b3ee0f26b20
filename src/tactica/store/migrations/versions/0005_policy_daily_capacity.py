"""Contact policies: the channels' daily capacities and the time zone their days are in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact_policies") as batch:
        batch.add_column(
            sa.Column("daily_capacity", sa.JSON(), nullable=False, server_default="{}")
        )
        batch.add_column(
            sa.Column("timezone", sa.String(length=64), nullable=False, server_default="UTC")
        )


def downgrade() -> None:
    with op.batch_alter_table("contact_policies") as batch:
        batch.drop_column("timezone")
        batch.drop_column("daily_capacity")
