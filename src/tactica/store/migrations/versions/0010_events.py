"""Events and triggered campaigns: event types, events, their daily figures.

Also the event types a campaign listens to (``campaigns.events``) and, on a contact,
the event it answers (``contacts.event_id``). Both columns are added in place: no
table is rebuilt, whatever the size of the contact ledger.

And ``change_stamps``: a counter the database itself moves (by triggers) whenever a
table the real-time catalog is compiled from changes — programs, campaigns, contact
policies, offers, segments, event types, customer fields — so every process knows,
with one read, whether the catalog it holds is still the store's.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


#: The tables the real-time catalog is compiled from.
CATALOG_TABLES = (
    "programs",
    "campaigns",
    "contact_policies",
    "offers",
    "segments",
    "event_types",
    "customer_fields",
)
_BUMP = "UPDATE change_stamps SET version = version + 1 WHERE name = 'catalog'"


def _triggers_up() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION tactica_bump_catalog() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        for t in CATALOG_TABLES:
            op.execute(
                f"CREATE TRIGGER trg_{t}_catalog AFTER INSERT OR UPDATE OR DELETE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION tactica_bump_catalog()"
            )
        return
    for t in CATALOG_TABLES:
        for what in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER trg_{t}_catalog_{what.lower()} AFTER {what} ON {t} "
                f"BEGIN {_BUMP}; END"
            )


def _triggers_down() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for t in CATALOG_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{t}_catalog ON {t}")
        op.execute("DROP FUNCTION IF EXISTS tactica_bump_catalog()")
        return
    for t in CATALOG_TABLES:
        for what in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_{t}_catalog_{what}")


def upgrade() -> None:
    op.create_table(
        "change_stamps",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_stamps")),
    )
    op.execute("INSERT INTO change_stamps (name, version) VALUES ('catalog', 0)")
    op.add_column("campaigns", sa.Column("events", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("campaigns", sa.Column("max_event_age_minutes", sa.Integer(), nullable=True))
    op.add_column("contacts", sa.Column("event_id", _ID, nullable=True))
    op.create_table(
        "event_types",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("required", sa.JSON(), nullable=False),
        sa.Column("lifecycle", sa.JSON(), nullable=True),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_types")),
        sa.UniqueConstraint("name", name=op.f("uq_event_types_name")),
    )
    op.create_table(
        "events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("occurred_at", _TS, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    op.create_index("ix_events_customer", "events", ["customer_id", "occurred_at"])
    op.create_index("ix_events_received", "events", ["received_at"])
    op.create_table(
        "event_figures",
        sa.Column("program", sa.String(100), nullable=False),
        sa.Column("campaign", sa.String(100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Numeric(16, 4), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint(
            "program", "campaign", "day", "outcome", "reason", name=op.f("pk_event_figures")
        ),
    )
    _triggers_up()


def downgrade() -> None:
    _triggers_down()
    op.drop_table("change_stamps")
    op.drop_table("event_figures")
    op.drop_index("ix_events_received", table_name="events")
    op.drop_index("ix_events_customer", table_name="events")
    op.drop_table("events")
    op.drop_table("event_types")
    with op.batch_alter_table("contacts") as b:
        b.drop_column("event_id")
    with op.batch_alter_table("campaigns") as b:
        b.drop_column("max_event_age_minutes")
        b.drop_column("events")
