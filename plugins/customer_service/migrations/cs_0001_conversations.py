"""The conversation log: sessions, turns, feedback on turns, and hand-off tickets.

Revision ID: cs_0001
Revises: (branch customer_service, after core_0001)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "cs_0001"
down_revision = None
branch_labels = ("customer_service",)
depends_on = "core_0001"

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cs_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
    )
    op.create_table(
        "cs_turns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.String(64), sa.ForeignKey("cs_sessions.id"), nullable=False, index=True),
        sa.Column("created_at", TIME, nullable=False, index=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("route", sa.String(20), nullable=False, index=True),
        sa.Column("intent", sa.String(200)),
        sa.Column("confidence", sa.Float()),
        sa.Column("confident", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("kb_ref", sa.String(500)),
        sa.Column("similarity", sa.Float()),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("language", sa.String(20)),
        sa.Column("model", sa.String(500)),
    )
    op.create_table(
        "cs_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("turn_id", sa.Integer(), sa.ForeignKey("cs_turns.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("intent", sa.String(200), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "cs_tickets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.String(64), sa.ForeignKey("cs_sessions.id"), nullable=False, index=True),
        sa.Column("turn_id", sa.Integer(), sa.ForeignKey("cs_turns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )


def downgrade() -> None:
    for table in ("cs_tickets", "cs_feedback", "cs_turns", "cs_sessions"):
        op.drop_table(table)
