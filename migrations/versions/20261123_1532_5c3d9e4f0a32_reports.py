"""reports (placeholder in the chain; filled by its capability if it needs schema changes)

Revision ID: 5c3d9e4f0a32
Revises: 4b2c8d3e9f21
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "5c3d9e4f0a32"
down_revision: str | None = "4b2c8d3e9f21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
