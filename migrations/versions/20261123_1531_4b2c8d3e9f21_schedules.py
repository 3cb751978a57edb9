"""schedules (placeholder in the chain; filled by its capability if it needs schema changes)

Revision ID: 4b2c8d3e9f21
Revises: 3f1a9c2b7d10
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "4b2c8d3e9f21"
down_revision: str | None = "3f1a9c2b7d10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
