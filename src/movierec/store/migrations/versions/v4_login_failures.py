"""Login failures: the wrong passwords of the last window, shared by every API process.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("failure_id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("failed_at", sa.Float(), nullable=False),
    )
    op.create_index("idx_login_failures_key", "login_failures", ["kind", "key_hash", "failed_at"])
    op.create_index("idx_login_failures_time", "login_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_index("idx_login_failures_time", "login_failures")
    op.drop_index("idx_login_failures_key", "login_failures")
    op.drop_table("login_failures")
