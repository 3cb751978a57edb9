"""reports: carrier call detail records (numbers called and durations, §7 tables 3 and 7)

Revision ID: 5c3d9e4f0a32
Revises: 4b2c8d3e9f21
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgd.db.base

revision: str = "5c3d9e4f0a32"
down_revision: str | None = "4b2c8d3e9f21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carrier_call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("counterpart_kind", sa.String(length=16), nullable=False),
        sa.Column("counterpart_number", sa.String(length=20), nullable=True),
        sa.Column("data_key_id", sa.Integer(), nullable=True),
        sa.Column("counterpart_enc", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("started_at", tgd.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("imported_at", tgd.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_carrier_call_records_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["beneficiary_files.id"],
            name=op.f("fk_carrier_call_records_file_id_beneficiary_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_carrier_call_records_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_call_records")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_carrier_call_records_call_sid")),
    )
    with op.batch_alter_table("carrier_call_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_carrier_call_records_file_id"), ["file_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_carrier_call_records_line_id"), ["line_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_carrier_call_records_started_at"), ["started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("carrier_call_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_carrier_call_records_started_at"))
        batch_op.drop_index(batch_op.f("ix_carrier_call_records_line_id"))
        batch_op.drop_index(batch_op.f("ix_carrier_call_records_file_id"))
    op.drop_table("carrier_call_records")
