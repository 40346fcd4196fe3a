"""Feedback: users' events, the API processes' id sources, erasures, and API-created users.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback_events",
        sa.Column("event_id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("movie_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("request_id", sa.Text()),
        sa.Column("request_known", sa.Boolean(), nullable=False),
        sa.Column("model_version", sa.Text()),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("idx_feedback_events_user", "feedback_events", ["user_id", "event_id"])
    op.create_table(
        "feedback_sources",
        sa.Column("source_id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "feedback_erasures",
        sa.Column("erasure_id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("up_to_event_id", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "app_users",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_users")
    op.drop_table("feedback_erasures")
    op.drop_table("feedback_sources")
    op.drop_index("idx_feedback_events_user", "feedback_events")
    op.drop_table("feedback_events")
