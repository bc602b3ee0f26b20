"""Programs, their campaigns, and named contact policies, with a default policy.

The default policy is the one most teams start from: at most 3 contacts in 30
days, 48 hours between two contacts, the same offer not within 14 days.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "contact_policies",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("per_run", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_contact_policies_name")),
    )
    op.create_table(
        "programs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("budget", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("schedule_kind", sa.String(length=16), nullable=False),
        sa.Column("schedule_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("schedule_cron", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("name", name=op.f("uq_programs_name")),
    )
    op.create_table(
        "campaigns",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("eligibility", sa.Text(), nullable=True),
        sa.Column("offers", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("template", sa.String(length=200), nullable=True),
        sa.Column("score", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.BigInteger(), nullable=True),
        sa.Column("control_share", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("cost_per_contact", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("budget", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_campaigns_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("program_id", "name", name="uq_campaign_program_name"),
    )

    policies = sa.table(
        "contact_policies",
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("per_run", sa.Integer),
        sa.column("rules", sa.JSON),
    )
    op.bulk_insert(
        policies,
        [
            {
                "name": "default",
                "description": "3 contacts in 30 days, 48 hours apart, no offer twice in 14 days",
                "per_run": 1,
                "rules": [
                    {"type": "cap", "name": "global-30d", "max": 3, "days": 30},
                    {"type": "gap", "name": "gap-48h", "hours": 48},
                    {"type": "no_repeat", "name": "offer-14d", "days": 14},
                ],
            }
        ],
    )


def downgrade() -> None:

    op.drop_table("campaigns")
    op.drop_table("programs")
    op.drop_table("contact_policies")
