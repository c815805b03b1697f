"""Reaching customers: sign-up / last-order times and referral codes on customers, segments,
publications and the one-coupon-per-customer-and-campaign record of published coupons.

Revision ID: 0008
Revises: 0007
"""

import secrets

import sqlalchemy as sa
from alembic import op

import couponry.adapters.db.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_REFERRAL_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def upgrade() -> None:
    utc = couponry.adapters.db.tables.UTCDateTime(timezone=True)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signed_up_at", utc, nullable=True))
        batch_op.add_column(sa.Column("last_order_at", utc, nullable=True))
        batch_op.add_column(sa.Column("referral_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("referred_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("referrer_id", sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_customers_referral_code"), ["referral_code"])
        batch_op.create_index(batch_op.f("ix_customers_referrer_id"), ["referrer_id"], unique=False)
    # customers that existed signed up when they were first seen, and get a referral code each
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE customers SET signed_up_at = created_at WHERE signed_up_at IS NULL"))
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM customers WHERE referral_code IS NULL"))]
    for customer_id in ids:
        code = "r-" + "".join(secrets.choice(_REFERRAL_ALPHABET) for _ in range(14))
        conn.execute(
            sa.text("UPDATE customers SET referral_code = :code WHERE id = :id"),
            {"code": code, "id": customer_id},
        )

    op.create_table(
        "segments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("match", sa.String(length=8), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
    )
    op.create_table(
        "publications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("segment_id", sa.String(length=32), nullable=True),
        sa.Column("customer_ids", sa.JSON(), nullable=True),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("issued", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publications")),
    )
    op.create_index(op.f("ix_publications_campaign_id"), "publications", ["campaign_id"], unique=False)
    op.create_table(
        "published_coupons",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("publication_id", sa.String(length=32), nullable=False),
        sa.Column("issued_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id", name=op.f("pk_published_coupons")),
    )
    op.create_index(
        "ix_published_coupons_publication",
        "published_coupons",
        ["publication_id", "customer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("published_coupons")
    op.drop_table("publications")
    op.drop_table("segments")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_referrer_id"))
        batch_op.drop_constraint(batch_op.f("uq_customers_referral_code"), type_="unique")
        for column in ("referrer_id", "referred_by", "referral_code", "last_order_at", "signed_up_at"):
            batch_op.drop_column(column)
