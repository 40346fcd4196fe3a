"""Baseline: the store of version 1, the request log only.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

A database created before migrations existed holds exactly this schema; `upgrade` stamps it
with this revision instead of creating it again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_logs",
        sa.Column(
            "request_id",
            sa.Uuid(as_uuid=False).with_variant(sa.String(36), "sqlite"),
            nullable=False,
        ),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.BigInteger()),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text()),
        sa.Column("recommendations", sa.Text(), nullable=False),
        sa.Column("scores", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("is_fallback", sa.Boolean(), nullable=False),
        sa.Column("fallback_reason", sa.Text()),
    )
    op.create_index("idx_request_logs_timestamp", "request_logs", ["timestamp"])


def downgrade() -> None:
    op.drop_index("idx_request_logs_timestamp", "request_logs")
    op.drop_table("request_logs")
