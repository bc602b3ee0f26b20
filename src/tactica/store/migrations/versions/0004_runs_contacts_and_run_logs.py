"""Runs, their per-campaign funnels, the contact ledger and the suppression logs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("activated_at", _TS, nullable=True))

    op.create_table(
        "runs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("run_key", sa.String(length=200), nullable=False),
        sa.Column("program_id", _ID, nullable=True),
        sa.Column("program", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scheduled_for", _TS, nullable=True),
        sa.Column("as_of", _TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("heartbeat_at", _TS, nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("candidates", sa.BigInteger(), nullable=False),
        sa.Column("contacts", sa.BigInteger(), nullable=False),
        sa.Column("held_out", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_runs_program_id_programs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_runs_run_key")),
    )
    op.create_index("ix_runs_program_started", "runs", ["program", "started_at"])
    op.create_table(
        "run_campaigns",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.BigInteger(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("held_out", sa.BigInteger(), nullable=False),
        sa.Column("after_policy", sa.BigInteger(), nullable=False),
        sa.Column("after_arbitration", sa.BigInteger(), nullable=False),
        sa.Column("after_capacity", sa.BigInteger(), nullable=False),
        sa.Column("contacts", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_run_campaigns_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_campaigns")),
        sa.UniqueConstraint("run_id", "campaign", name="uq_run_campaign"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", _ID, nullable=True),
        sa.Column("program", sa.String(length=100), nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("campaign_kind", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("offer", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("cost", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_contacts_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("run_id", "customer_id", "campaign", name="uq_contact_run_customer"),
    )
    op.create_index("ix_contacts_customer_decided", "contacts", ["customer_id", "decided_at"])
    op.create_index("ix_contacts_decided", "contacts", ["decided_at"])
    op.create_table(
        "run_logs",
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("suppressed", sa.LargeBinary(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_run_logs_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_logs")),
    )


def downgrade() -> None:
    op.drop_table("run_logs")
    op.drop_index("ix_contacts_decided", table_name="contacts")
    op.drop_index("ix_contacts_customer_decided", table_name="contacts")
    op.drop_table("contacts")
    op.drop_table("run_campaigns")
    op.drop_index("ix_runs_program_started", table_name="runs")
    op.drop_table("runs")
    with op.batch_alter_table("programs") as batch:
        batch.drop_column("activated_at")
