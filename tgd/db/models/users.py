"""Users, organisations (parquets, associations, committees) and jurisdiction scopes (R-51)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tgd.db.base import Base, str_enum, utcnow
from tgd.db.models.territories import Juridiction
from tgd.domain.roles import Role


class OrganisationKind(enum.StrEnum):
    """Kinds of organisation a user or a file refers to."""

    CENTRE = "centre"
    PARQUET = "parquet"
    ASSOCIATION = "association"
    COMMITTEE = "committee"


organisation_juridictions = Table(
    "organisation_juridictions",
    Base.metadata,
    Column("organisation_id", ForeignKey("organisations.id"), primary_key=True),
    Column("juridiction_id", ForeignKey("juridictions.id"), primary_key=True),
)

user_juridictions = Table(
    "user_juridictions",
    Base.metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("juridiction_id", ForeignKey("juridictions.id"), primary_key=True),
)


class Organisation(Base):
    """A parquet office, a victim-support association, a committee or the centre itself."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrganisationKind] = mapped_column(str_enum(OrganisationKind))
    name: Mapped[str] = mapped_column(String(160))
    phone: Mapped[str | None] = mapped_column(String(20))  # the organisation's line
    email: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    juridictions: Mapped[list[Juridiction]] = relationship(secondary=organisation_juridictions)


class User(Base):
    """A human user with one role; parquet, association and committee users are scoped."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(160))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    totp_enrolled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]  # replay protection: a code is accepted once
    is_active: Mapped[bool] = mapped_column(default=True)
    sessions_valid_after: Mapped[datetime | None]  # E-08: ends older sessions
    failed_logins: Mapped[int] = mapped_column(default=0)  # since the last success
    locked_until: Mapped[datetime | None]  # throttled after repeated failures
    last_login_at: Mapped[datetime | None]
    # R-24d: the operator's audio line (E.164 number or ``sip:`` address), set by an
    # administrator; claiming an alert dials it into the bridge.
    audio_line: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation | None] = relationship()
    juridictions: Mapped[list[Juridiction]] = relationship(secondary=user_juridictions)


class UserSession(Base):
    """A login session kept server-side (E-08): revocable, with idle and absolute expiry.

    The browser's cookie holds a random token; only its SHA-256 is stored here, so a
    copy of the database cannot be used to hijack a session.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    second_factor_at: Mapped[datetime | None]  # None: password checked, TOTP still due
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(24))  # logout, idle, expired, disabled
    source: Mapped[str | None] = mapped_column(String(64))  # IP address at login
    # R-24d: the audio line chosen for this shift (overrides the account's own).
    audio_line: Mapped[str | None] = mapped_column(String(200))
    # E-08: the console's screen lock; the session and its socket stay, the password unlocks.
    locked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
