"""Per-epoch metrics of runs.

Revision ID: core_0002
Revises: core_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0002"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_metrics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Float(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("split", sa.String(50), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_run_metrics"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_metrics_run_id_runs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_run_metrics_run_id_epoch", "run_metrics", ["run_id", "epoch"])


def downgrade() -> None:
    op.drop_index("ix_run_metrics_run_id_epoch", table_name="run_metrics")
    op.drop_table("run_metrics")
