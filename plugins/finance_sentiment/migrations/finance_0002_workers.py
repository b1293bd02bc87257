"""Several monitor processes on one stream: each item's stream position (the detector counts
items in that order), the detector's lease, and the workers' heartbeats.

Revision ID: finance_0002
Revises: finance_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "finance_0002"
down_revision = "finance_0001"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("finance_items") as batch:
        batch.add_column(sa.Column("position", sa.String(40)))
        batch.create_index("ix_finance_items_position", ["position"])
    op.create_table(
        "finance_leases",
        sa.Column("name", sa.String(1000), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("taken_at", TIME, nullable=False),
    )
    op.create_table(
        "finance_workers",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("source_key", sa.String(1000), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("seen_at", TIME, nullable=False),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.Column("stored", sa.BigInteger(), nullable=False),
        sa.Column("dead_letters", sa.BigInteger(), nullable=False),
        sa.Column("items_per_second", sa.Float(), nullable=False),
        sa.Column("detector", sa.Boolean(), nullable=False),
        sa.Column("stopped_at", TIME),
    )


def downgrade() -> None:
    op.drop_table("finance_workers")
    op.drop_table("finance_leases")
    with op.batch_alter_table("finance_items") as batch:
        batch.drop_index("ix_finance_items_position")
        batch.drop_column("position")
