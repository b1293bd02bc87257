"""Each logged turn keeps the words behind its intent decision ([{word, start, end, weight}]).

Revision ID: cs_0002
Revises: cs_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "cs_0002"
down_revision = "cs_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cs_turns") as batch:
        batch.add_column(sa.Column("explanation", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cs_turns") as batch:
        batch.drop_column("explanation")
