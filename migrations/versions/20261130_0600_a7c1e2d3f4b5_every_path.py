"""every path: SMS for the operators, termination date, chase escalation, file geocodes

Revision ID: a7c1e2d3f4b5
Revises: 7e5f1a6b2c54
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgd.db.base

revision: str = "a7c1e2d3f4b5"
down_revision: str | None = "7e5f1a6b2c54"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = tgd.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Issue 12 item 1: where a file's addresses are, encrypted with the file's key.
    op.create_table(
        "file_geocodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("point_enc", sa.LargeBinary(), nullable=True),
        sa.Column("match_type", sa.String(length=16), nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("corrected_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrected_by_id"], ["users.id"], name=op.f("fk_file_geocodes_corrected_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["beneficiary_files.id"],
            name=op.f("fk_file_geocodes_file_id_beneficiary_files"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_geocodes")),
        sa.UniqueConstraint("file_id", "place", name=op.f("uq_file_geocodes_file_id_place")),
    )
    with op.batch_alter_table("file_geocodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_file_geocodes_file_id"), ["file_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_file_geocodes_status"), ["status"], unique=False)
    # Coordinates in clear keyed by address hash outlived the files they came from:
    # the points now live, encrypted, with their file.
    op.drop_table("geocode_cache")

    # Issue 12 item 2: an untreated test-call chase step goes to the supervisors.
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalated_at", UTC, nullable=True))

    # Issue 12 item 3: the navette's "date de résiliation" (CCP II.2.4).
    with op.batch_alter_table("beneficiary_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("termination_date", sa.Date(), nullable=True))

    # Issue 12 item 5: SMS from unknown numbers (and free text from terminals), encrypted.
    op.create_table(
        "inbound_sms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_sid", sa.String(length=80), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("territory_id", sa.Integer(), nullable=True),
        sa.Column("data_key_id", sa.Integer(), nullable=True),
        sa.Column("sender_enc", sa.LargeBinary(), nullable=True),
        sa.Column("body_enc", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("read_at", UTC, nullable=True),
        sa.Column("read_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_inbound_sms_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["beneficiary_files.id"],
            name=op.f("fk_inbound_sms_file_id_beneficiary_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_inbound_sms_line_id_lines")
        ),
        sa.ForeignKeyConstraint(
            ["read_by_id"], ["users.id"], name=op.f("fk_inbound_sms_read_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_inbound_sms_territory_id_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_sms")),
        sa.UniqueConstraint("message_sid", name=op.f("uq_inbound_sms_message_sid")),
    )
    with op.batch_alter_table("inbound_sms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_sms_file_id"), ["file_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbound_sms_line_id"), ["line_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inbound_sms_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_sms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_sms_received_at"))
        batch_op.drop_index(batch_op.f("ix_inbound_sms_line_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_sms_file_id"))
    op.drop_table("inbound_sms")
    with op.batch_alter_table("beneficiary_files", schema=None) as batch_op:
        batch_op.drop_column("termination_date")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("escalated_at")
    op.create_table(
        "geocode_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geocode_cache")),
        sa.UniqueConstraint("address_hash", name=op.f("uq_geocode_cache_address_hash")),
    )
    with op.batch_alter_table("file_geocodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_file_geocodes_status"))
        batch_op.drop_index(batch_op.f("ix_file_geocodes_file_id"))
    op.drop_table("file_geocodes")
