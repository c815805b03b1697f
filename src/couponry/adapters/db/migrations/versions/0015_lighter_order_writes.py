"""Lighter writes for every order: room for HOT updates on the rows each order changes, one index
fewer on the lots, and earned entries left out of the expiry index.

- `customers` and `loyalty_accounts` (PostgreSQL): fillfactor 90. Each order moves a customer's counters
  and a member's balances; no index covers those columns, so with room on the page PostgreSQL keeps
  the new row version there (a HOT update) instead of adding an entry to every index of the table.
  Rows already stored stay where they are; pages written from now on keep the room.
- `ix_points_lots_customer_id` is dropped: every query of lots by customer reads the pending lots
  through `ix_points_lots_due` (customer, maturity, pending only); nothing used it, and every order paid
  for it.
- `ix_points_ledger_expires_at` covers the entries that carry an expiry date only (credits to the
  available balance): the expiry job's `expires_at <= now` never needs the others, which are most of
  the ledger (an `earned` entry per order).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE customers SET (fillfactor = 90)")
        op.execute("ALTER TABLE loyalty_accounts SET (fillfactor = 90)")
    with op.batch_alter_table("points_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_points_lots_customer_id")
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_points_ledger_expires_at")
        batch_op.create_index(
            "ix_points_ledger_expires_at",
            ["expires_at"],
            unique=False,
            postgresql_where=sa.text("expires_at IS NOT NULL"),
            sqlite_where=sa.text("expires_at IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_points_ledger_expires_at")
        batch_op.create_index("ix_points_ledger_expires_at", ["expires_at"], unique=False)
    with op.batch_alter_table("points_lots", schema=None) as batch_op:
        batch_op.create_index("ix_points_lots_customer_id", ["customer_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE loyalty_accounts RESET (fillfactor)")
        op.execute("ALTER TABLE customers RESET (fillfactor)")
