"""Control-group members get their own table, out of the contact ledger.

A held-out member was never contacted: it counts for no policy rule and is read only
to measure uplift and to explain a run. Kept in ``contacts`` it cost the ledger's
three indexes a row each (half the rows of a typical run); here it is one B-tree
keyed by (run, customer, campaign).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_COLUMNS = "run_id, customer_id, campaign, program, offer, channel, score, decided_at"


def upgrade() -> None:
    op.create_table(
        "held_out",
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("program", sa.String(length=100), nullable=False),
        sa.Column("offer", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_held_out_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "customer_id", "campaign", name=op.f("pk_held_out")),
        sqlite_with_rowid=False,
    )
    op.execute(
        f"INSERT INTO held_out ({_COLUMNS}) SELECT {_COLUMNS} FROM contacts "
        "WHERE status = 'held_out' AND run_id IS NOT NULL"
    )
    op.execute("DELETE FROM contacts WHERE status = 'held_out'")


def downgrade() -> None:
    op.execute(
        f"INSERT INTO contacts ({_COLUMNS}, campaign_kind, cost, rank, status) "
        f"SELECT {_COLUMNS}, 'outbound', 0, 0, 'held_out' FROM held_out"
    )
    op.drop_table("held_out")
