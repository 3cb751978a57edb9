"""terminal faults and inventory: delivery notes, warranty, fault tickets (R-18, §7 tables 2, 4, 10)

Revision ID: 8f6a2b7c3d65
Revises: a7c1e2d3f4b5
Create Date: 2026-11-30

Existing incidents become tickets: resolved ones "resolu", the others "ouvert",
received through an unknown channel ("autre"). Existing SIMs take their line's
number, so stock and lines agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgd.db.base

revision: str = "8f6a2b7c3d65"
down_revision: str | None = "a7c1e2d3f4b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS = sa.Enum("ouvert", "en_cours", "resolu", name="ticketstatus", native_enum=False, length=32)
_CHANNEL = sa.Enum(
    "portail", "telephone", "autre", name="ticketchannel", native_enum=False, length=32
)
_RESOLUTION = sa.Enum(
    "conseil",
    "echange",
    "echange_hors_garantie",
    "sans_suite",
    name="ticketresolution",
    native_enum=False,
    length=32,
)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("terminals", sa.Integer(), nullable=False),
        sa.Column("sims", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("imported_at", tgd.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_sha256"), ["sha256"], unique=False)

    with op.batch_alter_table("terminals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warranty_end", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("delivery_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_terminals_delivery_id"), ["delivery_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_terminals_delivery_id_deliveries"), "deliveries", ["delivery_id"], ["id"]
        )

    with op.batch_alter_table("sims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("msisdn", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("delivery_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("delivered_with_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_sims_delivery_id"), ["delivery_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_sims_msisdn"), ["msisdn"])
        batch_op.create_foreign_key(
            batch_op.f("fk_sims_delivery_id_deliveries"), "deliveries", ["delivery_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_sims_delivered_with_id_terminals"),
            "terminals",
            ["delivered_with_id"],
            ["id"],
        )
    op.execute(
        "UPDATE sims SET msisdn = (SELECT lines.msisdn FROM lines WHERE lines.sim_id = sims.id)"
    )

    with op.batch_alter_table("swaps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("under_warranty", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_swaps_user_id_users"), "users", ["user_id"], ["id"]
        )

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", _STATUS, nullable=True))
        batch_op.add_column(sa.Column("channel", _CHANNEL, nullable=True))
        batch_op.add_column(sa.Column("reporter_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reported_by_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("clock_started_at", tgd.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("deadline_at", tgd.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("diagnosed_at", tgd.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("handled_by_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("needs_swap", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("under_warranty", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("resolution", _RESOLUTION, nullable=True))
        batch_op.add_column(sa.Column("file_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("data_key_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("report_enc", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE incidents SET channel = 'autre', status = CASE WHEN resolved_at IS NULL "
        "THEN 'ouvert' ELSE 'resolu' END"
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=_STATUS, nullable=False)
        batch_op.alter_column("channel", existing_type=_CHANNEL, nullable=False)
        batch_op.create_index(batch_op.f("ix_incidents_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_file_id"), ["file_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_reported_by_user_id_users"),
            "users",
            ["reported_by_user_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_handled_by_user_id_users"),
            "users",
            ["handled_by_user_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_file_id_beneficiary_files"),
            "beneficiary_files",
            ["file_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_data_key_id_data_keys"),
            "data_keys",
            ["data_key_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_incidents_data_key_id_data_keys"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_incidents_file_id_beneficiary_files"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_incidents_handled_by_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_incidents_reported_by_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_incidents_file_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_status"))
        for column in (
            "report_enc",
            "data_key_id",
            "file_id",
            "resolution",
            "under_warranty",
            "needs_swap",
            "handled_by_user_id",
            "diagnosed_at",
            "deadline_at",
            "clock_started_at",
            "reported_by_user_id",
            "reporter_kind",
            "channel",
            "status",
        ):
            batch_op.drop_column(column)

    with op.batch_alter_table("swaps", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_swaps_user_id_users"), type_="foreignkey")
        batch_op.drop_column("user_id")
        batch_op.drop_column("under_warranty")

    with op.batch_alter_table("sims", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_sims_delivered_with_id_terminals"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_sims_delivery_id_deliveries"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_sims_msisdn"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_sims_delivery_id"))
        batch_op.drop_column("delivered_with_id")
        batch_op.drop_column("delivery_id")
        batch_op.drop_column("msisdn")

    with op.batch_alter_table("terminals", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_terminals_delivery_id_deliveries"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_terminals_delivery_id"))
        batch_op.drop_column("delivery_id")
        batch_op.drop_column("warranty_end")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_sha256"))
    op.drop_table("deliveries")
