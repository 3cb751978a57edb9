"""console: gapless publication order of console events (E-02)

Revision ID: 6d4e0f5a1b43
Revises: 5c3d9e4f0a32
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6d4e0f5a1b43"
down_revision: str | None = "5c3d9e4f0a32"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("console_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_seq", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_console_events_published_seq"), ["published_seq"]
        )


def downgrade() -> None:
    with op.batch_alter_table("console_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_console_events_published_seq"), type_="unique")
        batch_op.drop_column("published_seq")
