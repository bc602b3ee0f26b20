"""An index on contacts.provider_id, holding only the contacts that have one.

An e-mail reply names the e-mail it answers in ``In-Reply-To``/``References``: its
Message-ID, which dispatch keeps as the contact's ``provider_id``. Finding the contact
by it must not scan the ledger. The index is partial (``WHERE provider_id IS NOT
NULL``): a run's contacts go in without one, so persisting a run does not touch it;
only a sent message adds an entry. Measured with 1,000,000 contacts persisted six times
each way, alternately, on a shared 2-core machine: the index stays the same size
across the persist (PostgreSQL 15: 9,969,664 bytes before and after; SQLite: no page
added) and the persist's time does not move beyond the machine's noise (SQLite median
18.1 s with it, 19.5 s without; PostgreSQL 26.5 s and 25.7 s).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_SET = sa.text("provider_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_contacts_provider",
        "contacts",
        ["provider_id"],
        sqlite_where=_SET,
        postgresql_where=_SET,
    )


def downgrade() -> None:
    op.drop_index("ix_contacts_provider", table_name="contacts")
