"""operator seat: audio lines (R-24d), screen lock (E-08), leg failures, presence, exemptions

Revision ID: 8f2a6c1d7e54
Revises: 8f6a2b7c3d65
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tgd.db.base import UTCDateTime

revision: str = "8f2a6c1d7e54"
down_revision: str | None = "8f6a2b7c3d65"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audio_line", sa.String(length=200), nullable=True))
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audio_line", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("locked_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("call_legs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure", sa.String(length=200), nullable=True))
    with op.batch_alter_table("service_level_breaches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exemption_cause", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("exemption_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("exempted_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("exempted_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_service_level_breaches_exempted_by_id_users"),
            "users",
            ["exempted_by_id"],
            ["id"],
        )
    op.create_table(
        "console_presences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=40), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("connected_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["user_sessions.id"],
            name=op.f("fk_console_presences_session_id_user_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_console_presences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_presences")),
    )
    with op.batch_alter_table("console_presences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_console_presences_process_key"), ["process_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_console_presences_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("console_presences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_presences_seen_at"))
        batch_op.drop_index(batch_op.f("ix_console_presences_process_key"))
    op.drop_table("console_presences")
    with op.batch_alter_table("service_level_breaches", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_service_level_breaches_exempted_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("exempted_at")
        batch_op.drop_column("exempted_by_id")
        batch_op.drop_column("exemption_note")
        batch_op.drop_column("exemption_cause")
    with op.batch_alter_table("call_legs", schema=None) as batch_op:
        batch_op.drop_column("failure")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_column("locked_at")
        batch_op.drop_column("audio_line")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("audio_line")
