"""Leases on jobs, so a job whose worker died is resumed by another; a key revocation counter, so every
server process forgets a revoked key within a second.

Jobs running at the time of the upgrade were started by the previous code, which recorded progress after
each batch rather than with it: their `done` may trail the codes they stored, so they cannot be resumed
exactly. They are marked failed, as that code would have done once they went stale (a worker of the
previous version still running one overwrites this with its own outcome).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import couponry.adapters.db.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column(
                "lease_expires_at", couponry.adapters.db.tables.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.execute(
        "UPDATE jobs SET status = 'failed', finished_at = heartbeat_at, "
        "error = 'interrupted by the upgrade to resumable jobs' WHERE status = 'running'"
    )
    op.create_table(
        "api_key_revocations",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key_revocations")),
    )


def downgrade() -> None:
    op.drop_table("api_key_revocations")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("attempts")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
