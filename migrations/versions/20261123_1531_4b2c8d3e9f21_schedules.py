"""schedules: service-level breaches (R-32)

Revision ID: 4b2c8d3e9f21
Revises: 3f1a9c2b7d10
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgd.db.base

revision: str = "4b2c8d3e9f21"
down_revision: str | None = "3f1a9c2b7d10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_level_breaches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=True),
        sa.Column("juridiction_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=24), nullable=True),
        sa.Column("started_at", tgd.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", tgd.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("limit_seconds", sa.Integer(), nullable=False),
        sa.Column("ended_at", tgd.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delay_seconds", sa.Integer(), nullable=True),
        sa.Column("detected_at", tgd.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["juridiction_id"],
            ["juridictions.id"],
            name=op.f("fk_service_level_breaches_juridiction_id_juridictions"),
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_service_level_breaches_territory_id_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_level_breaches")),
        sa.UniqueConstraint(
            "kind",
            "subject_type",
            "subject_id",
            name=op.f("uq_service_level_breaches_kind_subject_type_subject_id"),
        ),
    )
    with op.batch_alter_table("service_level_breaches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_level_breaches_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_service_level_breaches_territory_id"), ["territory_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("service_level_breaches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_level_breaches_territory_id"))
        batch_op.drop_index(batch_op.f("ix_service_level_breaches_kind"))
    op.drop_table("service_level_breaches")
