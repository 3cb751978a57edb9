"""navettes: the line reference on navettes, e-mail notice time of messages to the parquet
(issue 6).

Revision ID: 3f1a9c2b7d10
Revises: 7ecd80f0b835
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgd.db.base

revision: str = "3f1a9c2b7d10"
down_revision: str | None = "7ecd80f0b835"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("navettes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=24), nullable=True))
        batch_op.create_index(batch_op.f("ix_navettes_reference"), ["reference"], unique=False)
    with op.batch_alter_table("parquet_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notified_at", tgd.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("parquet_messages", schema=None) as batch_op:
        batch_op.drop_column("notified_at")
    with op.batch_alter_table("navettes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_navettes_reference"))
        batch_op.drop_column("reference")
