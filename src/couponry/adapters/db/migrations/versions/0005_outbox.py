"""The transactional outbox: webhook events and mails, written with their cause, delivered after.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import couponry.adapters.db.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("available_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status_available", ["status", "available_at"], unique=False)


def downgrade() -> None:
    op.drop_table("outbox")
