"""Loyalty: the program, accounts (membership and cached balances), the points ledger and lots,
rewards and their exchanges, prize wheels with their prizes, free spins and spins.

Revision ID: 0012
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa
import couponry.adapters.db.tables


revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loyalty_accounts",
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("member", sa.Boolean(), nullable=False),
        sa.Column("joined_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("left_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("available", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("lifetime", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "expiry_checked_until", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("statement_month", sa.String(length=7), nullable=True),
        sa.Column("updated_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_loyalty_accounts")),
    )
    op.create_table(
        "loyalty_program",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_program")),
    )
    op.create_table(
        "points_ledger",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.String(length=10), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("pending_change", sa.BigInteger(), nullable=False),
        sa.Column("available_change", sa.BigInteger(), nullable=False),
        sa.Column("lifetime_change", sa.BigInteger(), nullable=False),
        sa.Column("source_type", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("expires_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_ledger")),
    )
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_points_ledger_customer", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_points_ledger_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "points_lots",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("order_amount", sa.BigInteger(), nullable=False),
        sa.Column("earned", sa.BigInteger(), nullable=False),
        sa.Column("reversed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("matured", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("matures_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_lots")),
        sa.UniqueConstraint("order_id", name=op.f("uq_points_lots_order_id")),
    )
    with op.batch_alter_table("points_lots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_points_lots_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            "ix_points_lots_due",
            ["customer_id", "matures_at"],
            unique=False,
            postgresql_where=sa.text("NOT matured"),
            sqlite_where=sa.text("matured = 0"),
        )

    op.create_table(
        "reward_exchanges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reward_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("created_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_exchanges")),
    )
    with op.batch_alter_table("reward_exchanges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reward_exchanges_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reward_exchanges_reward_id"), ["reward_id"], unique=False)

    op.create_table(
        "rewards",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("issued", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("stock IS NULL OR issued <= stock", name=op.f("ck_rewards_within_stock")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewards")),
    )
    op.create_table(
        "wheel_free_spins",
        sa.Column("wheel_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("used", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("wheel_id", "customer_id", "day", name=op.f("pk_wheel_free_spins")),
    )
    op.create_table(
        "wheel_prizes",
        sa.Column("wheel_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=True),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("given", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("stock IS NULL OR given <= stock", name=op.f("ck_wheel_prizes_within_stock")),
        sa.PrimaryKeyConstraint("wheel_id", "position", name=op.f("pk_wheel_prizes")),
    )
    op.create_table(
        "wheel_spins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("wheel_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("points_paid", sa.BigInteger(), nullable=False),
        sa.Column("free", sa.Boolean(), nullable=False),
        sa.Column("created_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wheel_spins")),
    )
    with op.batch_alter_table("wheel_spins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wheel_spins_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_wheel_spins_wheel_id"), ["wheel_id"], unique=False)

    op.create_table(
        "wheels",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("cost_points", sa.BigInteger(), nullable=False),
        sa.Column("free_spins_per_day", sa.Integer(), nullable=False),
        sa.Column("created_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wheels")),
    )


def downgrade() -> None:
    op.drop_table("wheels")
    with op.batch_alter_table("wheel_spins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wheel_spins_wheel_id"))
        batch_op.drop_index(batch_op.f("ix_wheel_spins_customer_id"))

    op.drop_table("wheel_spins")
    op.drop_table("wheel_prizes")
    op.drop_table("wheel_free_spins")
    op.drop_table("rewards")
    with op.batch_alter_table("reward_exchanges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reward_exchanges_reward_id"))
        batch_op.drop_index(batch_op.f("ix_reward_exchanges_customer_id"))

    op.drop_table("reward_exchanges")
    with op.batch_alter_table("points_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_points_lots_due")
        batch_op.drop_index(batch_op.f("ix_points_lots_customer_id"))

    op.drop_table("points_lots")
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_points_ledger_expires_at")
        batch_op.drop_index("ix_points_ledger_customer")

    op.drop_table("points_ledger")
    op.drop_table("loyalty_program")
    op.drop_table("loyalty_accounts")
