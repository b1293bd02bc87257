"""The finance monitor's tables: items, offsets, dead letters, alerts, deliveries, silences.

Revision ID: finance_0001
Revises: (branch finance_sentiment, after core_0001)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "finance_0001"
down_revision = None
branch_labels = ("finance_sentiment",)
depends_on = "core_0001"

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "finance_items",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("time", TIME, nullable=False, index=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(2000)),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.String(20), nullable=False),
        sa.Column("sentiment_score", sa.Float(), nullable=False),
        sa.Column("negative_score", sa.Float(), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False, index=True),
        sa.Column("topic_score", sa.Float(), nullable=False),
        sa.Column("duplicate_of", sa.String(200)),
        sa.Column("stored_at", TIME, nullable=False),
    )
    op.create_table(
        "finance_offsets",
        sa.Column("source_key", sa.String(1000), primary_key=True),
        sa.Column("position", sa.String(200), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "finance_dead_letters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_key", sa.String(1000), nullable=False),
        sa.Column("position", sa.String(200), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "finance_alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(300), nullable=False, index=True),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("group_id", sa.String(32)),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("fired_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("resolved_at", TIME),
        sa.Column("acknowledged_at", TIME),
        sa.Column("acknowledged_by", sa.String(200)),
    )
    op.create_table(
        "finance_deliveries",
        sa.Column("alert_id", sa.String(32), sa.ForeignKey("finance_alerts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("event", sa.String(40), primary_key=True),
        sa.Column("sink", sa.String(100), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("delivered_at", TIME),
    )
    op.create_table(
        "finance_silences",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("until", TIME, nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("created_at", TIME, nullable=False),
    )


def downgrade() -> None:
    for table in ("finance_silences", "finance_deliveries", "finance_alerts", "finance_dead_letters",
                  "finance_offsets", "finance_items"):
        op.drop_table(table)
