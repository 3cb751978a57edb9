"""line operations: call restrictions, coverage maps and measures, line health (issue 15)

Revision ID: 7e5f1a6b2c54
Revises: 6d4e0f5a1b43
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgd.db.base

revision: str = "7e5f1a6b2c54"
down_revision: str | None = "6d4e0f5a1b43"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coverage_layers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("geometry_wkb", sa.LargeBinary(), nullable=False),
        sa.Column("features", sa.Integer(), nullable=False),
        sa.Column("magnitude", sa.Double(), nullable=False),
        sa.Column("source_name", sa.String(length=160), nullable=False),
        sa.Column("valid_from", tgd.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", tgd.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_coverage_layers_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_coverage_layers_territory_id_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_layers")),
    )
    with op.batch_alter_table("coverage_layers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coverage_layers_territory_id"), ["territory_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_coverage_layers_valid_until"), ["valid_until"], unique=False
        )

    op.create_table(
        "coverage_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("coverage_id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("covered", sa.Double(), nullable=False),
        sa.Column("computed_at", tgd.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coverage_id"],
            ["coverage_layers.id"],
            name=op.f("fk_coverage_measures_coverage_id_coverage_layers"),
        ),
        sa.ForeignKeyConstraint(
            ["layer_id"],
            ["coverage_layers.id"],
            name=op.f("fk_coverage_measures_layer_id_coverage_layers"),
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_coverage_measures_territory_id_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_measures")),
        sa.UniqueConstraint(
            "coverage_id", "layer_id", name=op.f("uq_coverage_measures_coverage_id_layer_id")
        ),
    )
    with op.batch_alter_table("coverage_measures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coverage_measures_territory_id"), ["territory_id"], unique=False
        )

    op.create_table(
        "line_activity",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("last_position_at", tgd.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", tgd.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_line_activity_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_line_activity")),
    )
    op.create_table(
        "line_restrictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("is_restricted", sa.Boolean(), nullable=False),
        sa.Column("numbers_enc", sa.LargeBinary(), nullable=True),
        sa.Column("data_key_id", sa.Integer(), nullable=True),
        sa.Column("voice_count", sa.Integer(), nullable=False),
        sa.Column("sms_count", sa.Integer(), nullable=False),
        sa.Column("request_ref", sa.String(length=120), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", tgd.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", tgd.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["line_assignments.id"],
            name=op.f("fk_line_restrictions_assignment_id_line_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_line_restrictions_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_line_restrictions_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_line_restrictions_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_restrictions")),
    )
    with op.batch_alter_table("line_restrictions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_line_restrictions_line_id"), ["line_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_line_restrictions_superseded_at"), ["superseded_at"], unique=False
        )

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("restricted_channel", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("dialled_number_enc", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("dialled_number_enc")
        batch_op.drop_column("restricted_channel")

    with op.batch_alter_table("line_restrictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_line_restrictions_superseded_at"))
        batch_op.drop_index(batch_op.f("ix_line_restrictions_line_id"))

    op.drop_table("line_restrictions")
    op.drop_table("line_activity")
    with op.batch_alter_table("coverage_measures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coverage_measures_territory_id"))

    op.drop_table("coverage_measures")
    with op.batch_alter_table("coverage_layers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coverage_layers_valid_until"))
        batch_op.drop_index(batch_op.f("ix_coverage_layers_territory_id"))

    op.drop_table("coverage_layers")
