"""Campaign-wide limits spread over counter rows (slots); coupon counters only where they guard a limit.

The usage counters move from the campaign row to slot 0 of campaign_limit_slots (one slot: later limits
are spread over COUPONRY_LIMIT_SLOTS rows when set), and coupons whose campaign has no per-coupon limit
stop counting on their row (their uses are counted from their redemptions).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COUNTERS = ("redeemed_count", "held_count", "budget_used", "budget_held")


def upgrade() -> None:
    op.create_table(
        "campaign_limit_slots",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("uses_left", sa.Integer(), nullable=True),
        sa.Column("budget_left", sa.BigInteger(), nullable=True),
        sa.Column("redeemed_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("held_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("budget_used", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("budget_held", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "slot", name=op.f("pk_campaign_limit_slots")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limit_slots", sa.SmallInteger(), server_default="0", nullable=False))
    tracked = "max_redemptions IS NOT NULL OR budget IS NOT NULL"
    op.execute(
        "INSERT INTO campaign_limit_slots (campaign_id, slot, uses_left, budget_left, "
        "redeemed_count, held_count, budget_used, budget_held) "
        "SELECT id, 0, "
        "CASE WHEN max_redemptions IS NULL THEN NULL WHEN status <> 'active' THEN 0 "
        "WHEN max_redemptions > redeemed_count + held_count "
        "THEN max_redemptions - redeemed_count - held_count ELSE 0 END, "
        "CASE WHEN budget IS NULL THEN NULL WHEN status <> 'active' THEN 0 "
        "WHEN budget > budget_used + budget_held THEN budget - budget_used - budget_held ELSE 0 END, "
        f"redeemed_count, held_count, budget_used, budget_held FROM campaigns WHERE {tracked}"
    )
    op.execute(f"UPDATE campaigns SET limit_slots = 1 WHERE {tracked}")
    op.execute(
        "UPDATE coupons SET redeemed_count = 0, held_count = 0 WHERE (redeemed_count <> 0 OR held_count <> 0) "
        "AND campaign_id IN (SELECT id FROM campaigns WHERE per_coupon IS NULL)"
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        for name in _COUNTERS:
            batch_op.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redeemed_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("held_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("budget_used", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("budget_held", sa.BigInteger(), server_default="0", nullable=False))
    for name in _COUNTERS:
        op.execute(
            f"UPDATE campaigns SET {name} = (SELECT coalesce(sum(s.{name}), 0) FROM campaign_limit_slots s "
            "WHERE s.campaign_id = campaigns.id)"
        )
    # coupons of campaigns without a per-coupon limit are recounted from their redemptions
    op.execute(
        "UPDATE coupons SET redeemed_count = (SELECT count(*) FROM redemption_codes rc "
        "WHERE rc.code = coupons.code AND rc.active) "
        "WHERE campaign_id IN (SELECT id FROM campaigns WHERE per_coupon IS NULL)"
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("limit_slots")
    op.drop_table("campaign_limit_slots")
