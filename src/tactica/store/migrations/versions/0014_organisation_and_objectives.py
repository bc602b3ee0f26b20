"""Organisation and objectives: teams, their members, goals per period, market sizes.

Teams form a hierarchy (``parent``) with a lead; members carry a title, written
responsibilities and whom they report to. Objectives hold a KPI definition over
recorded measures (or a qualitative scale), a target per period and the scope the
actual is computed over; market sizes are entered per period for market share.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "market_sizes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("market", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("entered_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_sizes")),
        sa.UniqueConstraint("period", "market", name="uq_market_sizes_period_market"),
    )
    op.create_table(
        "objectives",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("kpi", sa.String(length=64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("higher_is_better", sa.Boolean(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("target", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("owner_team", sa.String(length=64), nullable=True),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("parent", sa.String(length=100), nullable=True),
        sa.Column("weight", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("reviewer", sa.String(length=100), nullable=True),
        sa.Column("scale_max", sa.Integer(), nullable=False),
        sa.Column("score", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("assessment_note", sa.Text(), nullable=False),
        sa.Column("assessed_by", sa.String(length=100), nullable=True),
        sa.Column("assessed_at", _TS, nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objectives")),
        sa.UniqueConstraint("name", name=op.f("uq_objectives_name")),
    )
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.create_index("ix_objectives_period", ["starts_on", "ends_on"], unique=False)

    op.create_table(
        "teams",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("function", sa.String(length=16), nullable=False),
        sa.Column("parent", sa.String(length=64), nullable=True),
        sa.Column("lead", sa.String(length=100), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "team_members",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("responsibilities", sa.Text(), nullable=False),
        sa.Column("reports_to", sa.String(length=100), nullable=True),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team"], ["teams.name"], name=op.f("fk_team_members_team_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_members")),
        sa.UniqueConstraint("team", "username", name="uq_team_members_team_username"),
    )
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_members_team"), ["team"], unique=False)
        batch_op.create_index(batch_op.f("ix_team_members_username"), ["username"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_members_username"))
        batch_op.drop_index(batch_op.f("ix_team_members_team"))

    op.drop_table("team_members")
    op.drop_table("teams")
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.drop_index("ix_objectives_period")

    op.drop_table("objectives")
    op.drop_table("market_sizes")
