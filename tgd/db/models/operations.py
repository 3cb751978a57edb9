"""Operational bookkeeping: console events outbox, tasks, scheduler lease, destruction register."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, utcnow


class ConsoleEvent(Base):
    """E-02: transactional outbox; ``seq`` is the monotonic sequence consoles resume from."""

    __tablename__ = "console_events"

    seq: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territories.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # past tense: alert_opened, alert_claimed
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ids, never personal data
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # E-02: the gapless order consoles resume from, given at publication under a lock (an
    # insert id can commit after a higher one, so ``seq`` alone could skip an event).
    published_seq: Mapped[int | None] = mapped_column(unique=True)
    published_at: Mapped[datetime | None]


class Task(Base):
    """Operators' work with a due time: test-call chase (R-30), termination check (R-15)."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("beneficiary_files.id", ondelete="SET NULL"), index=True
    )
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dedup_key: Mapped[str | None] = mapped_column(String(120), unique=True)  # idempotent jobs
    escalated_at: Mapped[datetime | None]  # its current step went to the supervisors


class TaskStep(Base):
    """One step of a task with its outcome (no personal data: outcomes are codes)."""

    __tablename__ = "task_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    step: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SchedulerLease(Base):
    """E-06: the lease that lets exactly one scheduler act at a time."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime]


class JobRun(Base):
    """The last instant each job has covered, so a missed run is caught up (R-33)."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40), index=True)
    started_at: Mapped[datetime]
    covered_until: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DestructionRecord(Base):
    """R-16/R-31: what was destroyed, by which rule; anonymous (reference only)."""

    __tablename__ = "destruction_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(40))  # fiche, positions, export…
    reference: Mapped[str | None] = mapped_column(String(24))
    file_number: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None]
    destroyed_at: Mapped[datetime] = mapped_column(default=utcnow)
    rule: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(default=1)


class ServiceLevelBreach(Base):
    """R-32: a service-level clock that ran out (navette 15 min, swap 24 h, unclaimed alert)."""

    __tablename__ = "service_level_breaches"
    __table_args__ = (UniqueConstraint("kind", "subject_type", "subject_id"),)  # idempotent job

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)  # navette_15min, swap_24h…
    subject_type: Mapped[str] = mapped_column(String(16))  # navette, swap, incident, alert
    subject_id: Mapped[int]
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territories.id"), index=True)
    juridiction_id: Mapped[int | None] = mapped_column(ForeignKey("juridictions.id"))
    reference: Mapped[str | None] = mapped_column(String(24))  # anonymous, like reports
    started_at: Mapped[datetime]  # when the clock started (reception, report, ring)
    deadline_at: Mapped[datetime]
    limit_seconds: Mapped[int]
    ended_at: Mapped[datetime | None]  # when it was finally done (None: still running)
    delay_seconds: Mapped[int | None]  # ended_at - started_at once done
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    # CCP VIII.5: a documented cause that exempts the delay from penalties (supervisor).
    exemption_cause: Mapped[str | None] = mapped_column(String(24))
    exemption_note: Mapped[str | None] = mapped_column(Text)  # the justification, no names
    exempted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    exempted_at: Mapped[datetime | None]


class ConsolePresence(Base):
    """A console socket connected to one app process (supervisors count them across processes).

    Written on connect and disconnect; each process refreshes ``seen_at`` of its own rows
    periodically, so the rows of a process that died fall out of the count.
    """

    __tablename__ = "console_presences"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(40), index=True)
    sid: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="CASCADE")
    )
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
