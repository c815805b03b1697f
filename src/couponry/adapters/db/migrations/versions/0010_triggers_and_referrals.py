"""Triggers and their rewards, the referral program and its rewards.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import couponry.adapters.db.tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = couponry.adapters.db.tables.UTCDateTime(timezone=True)
    op.create_table(
        "triggers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("campaign_ids", sa.JSON(), nullable=False),
        sa.Column("min_amount", sa.BigInteger(), nullable=True),
        sa.Column("per_customer", sa.Integer(), nullable=False),
        sa.Column("after_trigger_id", sa.String(length=32), nullable=True),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("deleted_at", utc, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triggers")),
    )
    op.create_index(op.f("ix_triggers_event"), "triggers", ["event"], unique=False)
    op.create_table(
        "trigger_rewards",
        sa.Column("trigger_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("occasion", sa.String(length=300), nullable=False),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("rewarded_at", utc, nullable=False),
        sa.PrimaryKeyConstraint(
            "trigger_id", "customer_id", "period", "slot", name=op.f("pk_trigger_rewards")
        ),
        sa.UniqueConstraint("trigger_id", "customer_id", "occasion", name="uq_trigger_rewards_occasion"),
    )
    op.create_table(
        "referral_program",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reward_on", sa.String(length=16), nullable=False),
        sa.Column("inviter_campaign_id", sa.String(length=32), nullable=True),
        sa.Column("invitee_campaign_id", sa.String(length=32), nullable=True),
        sa.Column("inviter_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_program")),
    )
    op.create_table(
        "referral_rewards",
        sa.Column("invitee_id", sa.String(length=100), nullable=False),
        sa.Column("inviter_id", sa.String(length=100), nullable=False),
        sa.Column("reward_on", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=True),
        sa.Column("inviter_code", sa.String(length=64), nullable=True),
        sa.Column("invitee_code", sa.String(length=64), nullable=True),
        sa.Column("inviter_points", sa.BigInteger(), nullable=False),
        sa.Column("rewarded_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("invitee_id", name=op.f("pk_referral_rewards")),
    )
    op.create_index(op.f("ix_referral_rewards_inviter_id"), "referral_rewards", ["inviter_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_referral_rewards_inviter_id"), table_name="referral_rewards")
    op.drop_table("referral_rewards")
    op.drop_table("referral_program")
    op.drop_table("trigger_rewards")
    op.drop_index(op.f("ix_triggers_event"), table_name="triggers")
    op.drop_table("triggers")
