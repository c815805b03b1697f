"""Coupon center: claim offers (stock, per-customer limit, window, listing filters) and claims.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import couponry.adapters.db.tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = couponry.adapters.db.tables.UTCDateTime(timezone=True)
    op.create_table(
        "claim_offers",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("claimed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("per_customer", sa.Integer(), nullable=False),
        sa.Column("starts_at", utc, nullable=True),
        sa.Column("ends_at", utc, nullable=True),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.CheckConstraint("stock IS NULL OR claimed <= stock", name=op.f("ck_claim_offers_stock")),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_claim_offers")),
    )
    op.create_table(
        "claims",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id", "n", name=op.f("pk_claims")),
    )


def downgrade() -> None:
    op.drop_table("claims")
    op.drop_table("claim_offers")
