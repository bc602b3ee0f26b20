"""An index on held_out leading with the customer: a customer's control-group rows.

The customer page lists every decision about one customer, the runs that held them
out included. ``held_out``'s key is (run, customer, campaign), so finding one
customer's rows without this index reads the whole table, which grows by every
run's control groups. ``(customer_id, decided_at)`` gives them newest first, like
the contacts' ``ix_contacts_customer_decided``.

What it costs a run: inserting one run's 200,000 held-out rows into a ``held_out``
of 2,000,000, four times each way, alternately, on a shared 2-core machine: SQLite
median 0.85 s without the index, 2.18 s with it; PostgreSQL 15 2.96 s and 3.34 s.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_held_out_customer_decided", "held_out", ["customer_id", "decided_at"])


def downgrade() -> None:
    op.drop_index("ix_held_out_customer_decided", table_name="held_out")
