"""Responses and sales: reply rules, responses, orders, sales reps, leads, activities.

Also the campaign's response window, the program's lead assignment and SLA, and an
index on every contact-point column of ``customers`` (a reply names its sender by
address, and finding the customer must not scan the table).

The reply rules table starts with the built-in English, Chinese and Russian rules;
from then on it is the deployment's own.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from tactica.domain.replies import DEFAULT_RULES

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def _contact_points() -> list[str]:
    rows = op.get_bind().execute(
        sa.text("SELECT name FROM customer_fields WHERE kind = 'contact_point'")
    )
    return [r[0] for r in rows]


def upgrade() -> None:
    with op.batch_alter_table("programs") as b:
        b.add_column(
            sa.Column(
                "lead_assignment", sa.String(16), nullable=False, server_default="round_robin"
            )
        )
        b.add_column(sa.Column("lead_sla_hours", sa.Integer(), nullable=False, server_default="24"))
    with op.batch_alter_table("campaigns") as b:
        b.add_column(
            sa.Column("response_window_days", sa.Integer(), nullable=False, server_default="14")
        )
    op.create_table(
        "reply_rules",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("simplified", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_reply_rules_name")),
    )
    op.create_table(
        "responses",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("sender", sa.String(200), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=True),
        sa.Column("contact_id", _ID, nullable=True),
        sa.Column("program", sa.String(100), nullable=True),
        sa.Column("campaign", sa.String(100), nullable=True),
        sa.Column("offer", sa.String(64), nullable=True),
        sa.Column("attributed_by", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("review", sa.String(16), nullable=True),
        sa.Column("reviewed_by", sa.String(100), nullable=True),
        sa.Column("reviewed_at", _TS, nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
        sa.UniqueConstraint("source", "message_id", name="uq_response_message"),
    )
    op.create_index("ix_responses_contact", "responses", ["contact_id"])
    op.create_index("ix_responses_customer", "responses", ["customer_id"])
    op.create_index("ix_responses_review", "responses", ["review"])
    op.create_index("ix_responses_received", "responses", ["received_at"])
    op.create_table(
        "orders",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("response_id", _ID, nullable=True),
        sa.Column("lead_id", _ID, nullable=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("contact_id", _ID, nullable=True),
        sa.Column("program", sa.String(100), nullable=True),
        sa.Column("campaign", sa.String(100), nullable=True),
        sa.Column("offer", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("price", sa.Numeric(14, 2), nullable=False),
        sa.Column("discount", sa.Numeric(5, 2), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_orders_response_id_responses"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("response_id", name=op.f("uq_orders_response_id")),
        sa.UniqueConstraint("lead_id", name=op.f("uq_orders_lead_id")),
    )
    op.create_index("ix_orders_customer", "orders", ["customer_id"])
    op.create_table(
        "sales_reps",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("territory", sa.String(100), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("manager", sa.String(100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_assigned_at", _TS, nullable=True),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_reps")),
        sa.UniqueConstraint("username", name=op.f("uq_sales_reps_username")),
    )
    op.create_table(
        "leads",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("response_id", _ID, nullable=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("contact_id", _ID, nullable=True),
        sa.Column("program", sa.String(100), nullable=True),
        sa.Column("campaign", sa.String(100), nullable=True),
        sa.Column("offer", sa.String(64), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rep", sa.String(100), nullable=True),
        sa.Column("assigned_at", _TS, nullable=True),
        sa.Column("due_at", _TS, nullable=True),
        sa.Column("contacted_at", _TS, nullable=True),
        sa.Column("escalated_at", _TS, nullable=True),
        sa.Column("escalated_to", sa.String(100), nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("lost_reason", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_leads_response_id_responses"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint("response_id", name=op.f("uq_leads_response_id")),
    )
    op.create_index("ix_leads_rep_status", "leads", ["rep", "status"])
    op.create_index("ix_leads_status_due", "leads", ["status", "due_at"])
    op.create_index("ix_leads_customer", "leads", ["customer_id"])
    op.create_table(
        "activities",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("lead_id", _ID, nullable=False),
        sa.Column("rep", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Numeric(12, 2), nullable=False),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_activities_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    op.create_index("ix_activities_rep_at", "activities", ["rep", "at"])
    for name in _contact_points():
        op.create_index(f"ix_customers_{name}", "customers", [name])
    rules = sa.table(
        "reply_rules",
        sa.column("name", sa.String),
        sa.column("language", sa.String),
        sa.column("outcome", sa.String),
        sa.column("kind", sa.String),
        sa.column("text", sa.Text),
        sa.column("priority", sa.Integer),
        sa.column("simplified", sa.Boolean),
        sa.column("active", sa.Boolean),
        sa.column("source", sa.String),
    )
    op.bulk_insert(
        rules,
        [
            {
                "name": r.name,
                "language": r.language,
                "outcome": r.outcome.value,
                "kind": r.kind,
                "text": r.text,
                "priority": r.priority,
                "simplified": r.simplified,
                "active": True,
                "source": "default",
            }
            for r in DEFAULT_RULES
        ],
    )


def downgrade() -> None:
    for name in _contact_points():
        op.drop_index(f"ix_customers_{name}", table_name="customers")
    op.drop_table("activities")
    op.drop_table("leads")
    op.drop_table("sales_reps")
    op.drop_table("orders")
    op.drop_table("responses")
    op.drop_table("reply_rules")
    with op.batch_alter_table("campaigns") as b:
        b.drop_column("response_window_days")
    with op.batch_alter_table("programs") as b:
        b.drop_column("lead_sla_hours")
        b.drop_column("lead_assignment")
