"""Fault tickets of the terminals' assistance centre (R-18; CCP Annexe 2, I.4 and X.4).

A parquet or an association reports a faulty terminal on the portal, or
phones the centre and the operator records the call (the person never calls
the centre herself: "il n'est pas prévu de lien direct entre le centre
d'assistance et l'utilisateur"). The centre is open Monday to Saturday,
9:00–18:00 in the line's territory, except that territory's public holidays:
a report received outside those hours is queued and its clock starts at the
next opening. The ticket then carries the diagnosis and the advice given
(``diagnose``), and ends with the advice, a swap of the handset keeping the
line and its reference (``swap_for_ticket``, due within 24 opening hours
under warranty) or nothing to do (``close_ticket``).

What the reporter wrote and who to call back are encrypted under the file's
key (the line's when it has no file) and read only through ``read_report``;
the rest is technical and feeds report tables 4 and 10 and the service-level
clocks. Services flush and audit the action they perform (``_audit``); the caller commits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.incidents import (
    Incident,
    IncidentKind,
    TicketChannel,
    TicketResolution,
    TicketStatus,
)
from tgd.db.models.lines import Line, LineAssignment, Swap, Terminal
from tgd.db.models.territories import Territory
from tgd.db.models.users import Organisation, User
from tgd.domain.assistance_hours import SWAP_DEADLINE_HOURS, AssistanceHours, holiday_name
from tgd.domain.beneficiary import normalise_phone
from tgd.domain.errors import N_, Conflict, ValidationError
from tgd.domain.navettes import FieldErrors
from tgd.domain.reference import Reference
from tgd.domain.roles import Role
from tgd.ports import Cipher, Clock
from tgd.services import audit, line_admin, policy, vault
from tgd.services.alerts import ensure_line_key
from tgd.settings import NATIONAL_TIMEZONE

# the faults a swap of the handset answers; their tickets run the 24-hour clock until
# the diagnosis rules a swap out or finds the handset out of warranty.
SWAP_FAULTS = (IncidentKind.PANNE_TERMINAL, IncidentKind.BATTERIE, IncidentKind.PERTE_VOL)
# What a parquet or an association may report (the operator may reclassify at diagnosis).
REPORTABLE_KINDS = (
    IncidentKind.PANNE_TERMINAL,
    IncidentKind.BATTERIE,
    IncidentKind.RESEAU,
    IncidentKind.PERTE_VOL,
    IncidentKind.AUTRE,
)
REPORTER_KINDS = ("parquet", "association")
TEXT_MAX = 2000


class Decision(enum.StrEnum):
    """What the diagnosis leads to."""

    CONSEIL = "conseil"  # the advice given fixed it: the ticket is resolved
    ECHANGE = "echange"  # the handset must be swapped
    SUIVI = "suivi"  # diagnosis recorded, still being followed
    SANS_SUITE = "sans_suite"  # no fault, or nothing the centre can do


DECISION_LABELS = {
    Decision.CONSEIL: N_("Résolu par les conseils donnés"),
    Decision.ECHANGE: N_("Échange du terminal nécessaire"),
    Decision.SUIVI: N_("À suivre (diagnostic en cours)"),
    Decision.SANS_SUITE: N_("Sans suite (aucun défaut constaté)"),
}


@dataclass(frozen=True)
class FaultReport:
    """What the reporter says: personal, encrypted at rest (R-52)."""

    symptoms: str
    contact_name: str = ""
    contact_phone: str = ""


@dataclass(frozen=True)
class SwapInfo:
    """The swap that closed a ticket, with its delay in opening hours (R-18)."""

    new_imei: str
    swapped_at: datetime
    delay: timedelta
    is_late: bool


@dataclass(frozen=True)
class TicketView:
    """A ticket as the pages show it: no personal data (see ``read_report``)."""

    id: int
    reference: str
    line_id: int | None
    kind: IncidentKind
    status: TicketStatus
    channel: TicketChannel
    reporter_kind: str | None
    organisation: str | None
    reported_at: datetime
    clock_started_at: datetime | None
    deadline_at: datetime | None
    timezone: str
    territory: str
    queued_because: str | None  # why the clock starts later than reception
    diagnosis: str
    advice: str
    resolution: TicketResolution | None
    resolved_at: datetime | None
    needs_swap: bool | None
    under_warranty: bool | None
    terminal_imei: str | None
    terminal_model: str | None
    warranty_end: date | None
    swap: SwapInfo | None
    opening_time_left: timedelta | None  # until the swap deadline, while it runs

    @property
    def is_open(self) -> bool:
        """Tell whether the ticket still waits for the centre."""
        return self.status is not TicketStatus.RESOLU

    @property
    def is_overdue(self) -> bool:
        """Tell whether a running swap clock has passed its deadline."""
        return self.opening_time_left is not None and self.opening_time_left <= timedelta(0)


def timezone_of(session: Session, ticket: Incident) -> str:
    """Return the IANA zone of a ticket's line's territory (the centre's own without a line)."""
    line = session.get(Line, ticket.line_id) if ticket.line_id is not None else None
    return line.juridiction.territory.timezone if line is not None else NATIONAL_TIMEZONE


def hours_for_line(line: Line) -> AssistanceHours:
    """Return the assistance centre's hours on the line's territory (R-18, CCP X.4)."""
    return line_admin.hours_of(line.juridiction.territory)


def _clocked(kind: IncidentKind) -> bool:
    return kind in SWAP_FAULTS


def reportable_lines(session: Session, user: User) -> list[tuple[int, str]]:
    """Return (line id, current reference) of the lines the user may report a fault on."""
    query = policy.scoped(
        select(LineAssignment.line_id, LineAssignment.reference).where(
            LineAssignment.is_current.is_(True)
        ),
        user,
        LineAssignment,
    )
    return [(int(i), str(r)) for i, r in session.execute(query.order_by(LineAssignment.reference))]


def organisations_for(session: Session, line: Line) -> list[Organisation]:
    """Return the parquets and associations of the line's court (who may report on it)."""
    return [
        o
        for o in session.scalars(select(Organisation).order_by(Organisation.name))
        if o.kind.value in REPORTER_KINDS
        and any(j.id == line.juridiction_id for j in o.juridictions)
    ]


def _checked_report(report: FaultReport) -> FaultReport:
    errors: dict[str, list[tuple[str, dict[str, object]]]] = {}
    symptoms = report.symptoms.strip()
    if not symptoms:
        errors["symptoms"] = [(N_("Décrivez ce qui ne fonctionne pas."), {})]
    elif len(symptoms) > TEXT_MAX:
        errors["symptoms"] = [(N_("2 000 caractères au plus."), {})]
    phone = report.contact_phone.strip()
    if not phone:
        errors["contact_phone"] = [(N_("Indiquez un numéro où le centre peut vous rappeler."), {})]
    else:
        try:
            phone = normalise_phone(phone)
        except ValidationError as exc:
            errors["contact_phone"] = [(exc.template, exc.params)]
    if errors:
        raise FieldErrors(errors)
    return FaultReport(symptoms, report.contact_name.strip()[:120], phone)


def _key_for(
    session: Session, line: Line, *, cipher: Cipher, clock: Clock
) -> tuple[int, int | None]:
    """Return (data key id, file id): the current file's key, else the line's own (R-52)."""
    file = session.scalar(
        select(BeneficiaryFile)
        .join(LineAssignment, LineAssignment.id == BeneficiaryFile.assignment_id)
        .where(
            LineAssignment.line_id == line.id,
            LineAssignment.is_current.is_(True),
            BeneficiaryFile.data_key_id.is_not(None),
        )
    )
    if file is not None and file.data_key_id is not None:
        return file.data_key_id, file.id
    return ensure_line_key(session, line, cipher=cipher, clock=clock), None


def report_fault(
    session: Session,
    *,
    reference: str,
    kind: IncidentKind,
    report: FaultReport,
    channel: TicketChannel,
    user: User,
    reporter_kind: str | None = None,
    organisation_id: int | None = None,
    received_at: datetime | None = None,
    cipher: Cipher,
    clock: Clock,
) -> Incident:
    """Open a fault ticket on a line the user may report on; its clock starts at opening.

    ``reference`` is the line's current reference, looked up in the user's courts only:
    another court's line answers exactly like an unknown reference (R-51).
    """
    line = line_for_reference(session, user, reference)
    report = _checked_report(report)
    now = clock.now()
    received = received_at or now
    if received > now:
        raise FieldErrors(
            {"received_at": [(N_("L'appel ne peut pas être reçu dans le futur."), {})]}
        )
    if user.role in (Role.PARQUET, Role.ASSOCIATION):
        reporter_kind, organisation_id = user.role.value, user.organisation_id
    if reporter_kind not in REPORTER_KINDS:
        raise FieldErrors({"reporter_kind": [(N_("Qui signale : parquet ou association ?"), {})]})
    reporters = [o for o in organisations_for(session, line) if o.kind.value == reporter_kind]
    if organisation_id not in {o.id for o in reporters}:
        # The court's own parquet or association, when it has exactly one of that kind.
        organisation_id = reporters[0].id if len(reporters) == 1 else None
    hours = hours_for_line(line)
    key_id, file_id = _key_for(session, line, cipher=cipher, clock=clock)
    ticket = Incident(
        kind=kind,
        line_id=line.id,
        terminal_id=line.terminal_id,
        reported_by_org_id=organisation_id,
        reported_at=received,
        status=TicketStatus.OUVERT,
        channel=channel,
        reporter_kind=reporter_kind,
        reported_by_user_id=user.id,
        clock_started_at=hours.clock_start(received),
        deadline_at=hours.swap_deadline(received) if _clocked(kind) else None,
        under_warranty=line_admin.is_under_warranty(line.terminal, received, hours),
        file_id=file_id,
        data_key_id=key_id,
    )
    session.add(ticket)
    vault.put_json(
        session,
        cipher,
        ticket,
        "report_enc",
        {
            "symptoms": report.symptoms,
            "contact_name": report.contact_name,
            "contact_phone": report.contact_phone,
        },
        key_id=key_id,
    )
    session.flush()
    _audit(
        session,
        ticket,
        "fault.report",
        user=user,
        clock=clock,
        kind=ticket.kind.value,
        channel=ticket.channel.value,
    )
    return ticket


def _audit(
    session: Session, ticket: Incident, action: str, *, user: User, clock: Clock, **details: object
) -> None:
    """Audit the step the user did on the ticket, in its transaction."""
    audit.record(
        session,
        actor=f"user:{user.id}",
        action=action,
        object_type="incident",
        object_id=ticket.id,
        details=details,
        clock=clock,
    )


def read_report(session: Session, ticket: Incident, *, cipher: Cipher) -> FaultReport | None:
    """Decrypt what the reporter wrote (None once destroyed with its file, R-16)."""
    if ticket.report_enc is None or ticket.data_key_id is None:
        return None
    value = vault.get_json(session, cipher, ticket, "report_enc", key_id=ticket.data_key_id)
    return FaultReport(
        str(value.get("symptoms", "")),
        str(value.get("contact_name", "")),
        str(value.get("contact_phone", "")),
    )


def _open(ticket: Incident) -> None:
    if ticket.status is TicketStatus.RESOLU:
        raise Conflict(N_("Ce signalement est déjà résolu."))


def diagnose(
    session: Session,
    ticket: Incident,
    *,
    kind: IncidentKind,
    diagnosis: str,
    advice: str,
    decision: Decision,
    user: User,
    clock: Clock,
) -> Incident:
    """Record the diagnosis and the advice given; resolve the ticket or leave a swap to do."""
    _open(ticket)
    errors: dict[str, list[tuple[str, dict[str, object]]]] = {}
    if not diagnosis.strip():
        errors["diagnosis"] = [(N_("Le diagnostic est obligatoire."), {})]
    if decision is Decision.CONSEIL and not advice.strip():
        errors["advice"] = [(N_("Indiquez les conseils donnés."), {})]
    if decision is Decision.ECHANGE and ticket.line_id is None:
        errors["decision"] = [(N_("Aucune ligne : pas de terminal à échanger."), {})]
    if errors:
        raise FieldErrors(errors)
    now = clock.now()
    line = session.get(Line, ticket.line_id) if ticket.line_id is not None else None
    if kind is not ticket.kind and line is not None:
        hours = hours_for_line(line)
        ticket.deadline_at = hours.swap_deadline(ticket.reported_at) if _clocked(kind) else None
    ticket.kind = kind
    ticket.diagnosis = diagnosis.strip()[:TEXT_MAX]
    ticket.answer = advice.strip()[:TEXT_MAX]
    ticket.diagnosed_at = ticket.diagnosed_at or now
    ticket.handled_by_user_id = user.id
    if decision in (Decision.CONSEIL, Decision.SANS_SUITE):
        ticket.needs_swap = False
        ticket.status = TicketStatus.RESOLU
        ticket.resolution = (
            TicketResolution.CONSEIL
            if decision is Decision.CONSEIL
            else TicketResolution.SANS_SUITE
        )
        ticket.resolved_at = now
    else:
        ticket.needs_swap = True if decision is Decision.ECHANGE else None
        ticket.status = TicketStatus.EN_COURS
    session.flush()
    _audit(session, ticket, "fault.diagnose", user=user, clock=clock, decision=decision.value)
    return ticket


def swap_for_ticket(
    session: Session,
    ticket: Incident,
    *,
    new_imei: str,
    model: str,
    swapped_at: datetime | None,
    cause: str,
    user: User,
    deadline_hours: int = SWAP_DEADLINE_HOURS,
    clock: Clock,
) -> line_admin.SwapResult:
    """R-18: swap the ticket's handset, keeping the line and its reference; close the ticket."""
    _open(ticket)
    if ticket.diagnosed_at is None:
        raise Conflict(N_("Établissez d'abord le diagnostic du signalement."))
    line = session.get(Line, ticket.line_id) if ticket.line_id is not None else None
    if line is None:
        raise Conflict(N_("Aucune ligne : pas de terminal à échanger."))
    result = line_admin.swap_terminal(
        session,
        line,
        new_imei=new_imei,
        model=model,
        reported_at=ticket.reported_at,
        cause=cause.strip() or ticket.diagnosis,
        deadline_hours=deadline_hours,
        swapped_at=swapped_at,
        incident_id=ticket.id,
        user_id=user.id,
        actor=None,  # audited below as the ticket's step (fault.swap)
        clock=clock,
    )
    ticket.needs_swap = True
    ticket.under_warranty = result.swap.under_warranty
    ticket.status = TicketStatus.RESOLU
    ticket.resolution = (
        TicketResolution.ECHANGE_HORS_GARANTIE
        if result.swap.under_warranty is False
        else TicketResolution.ECHANGE
    )
    ticket.resolved_at = result.swap.swapped_at
    ticket.handled_by_user_id = user.id
    session.flush()
    _audit(
        session,
        ticket,
        "fault.swap",
        user=user,
        clock=clock,
        line=ticket.line_id,
        late=result.is_late,
    )
    return result


def close_ticket(
    session: Session,
    ticket: Incident,
    *,
    resolution: TicketResolution,
    user: User,
    clock: Clock,
) -> Incident:
    """Close a diagnosed ticket without a swap (advice, or nothing to do)."""
    _open(ticket)
    if resolution not in (TicketResolution.CONSEIL, TicketResolution.SANS_SUITE):
        raise ValidationError(N_("Un échange se clôt en enregistrant l'échange."))
    if ticket.diagnosed_at is None:
        raise Conflict(N_("Établissez d'abord le diagnostic du signalement."))
    ticket.status = TicketStatus.RESOLU
    ticket.resolution = resolution
    ticket.resolved_at = clock.now()
    ticket.needs_swap = False
    ticket.handled_by_user_id = user.id
    session.flush()
    _audit(session, ticket, "fault.close", user=user, clock=clock, resolution=resolution.value)
    return ticket


def _queued_because(ticket: Incident, hours: AssistanceHours) -> str | None:
    start = ticket.clock_started_at
    if start is None or start <= ticket.reported_at:
        return None
    day = hours.local_day(ticket.reported_at)
    name = holiday_name(hours.territory_code, day)
    if name:
        return name
    if day.weekday() == 6:
        return N_("dimanche")
    return N_("hors des heures d'ouverture")


def ticket_view(session: Session, ticket: Incident, *, clock: Clock) -> TicketView:
    """Return what the pages show of a ticket (no personal data)."""
    line = session.get(Line, ticket.line_id) if ticket.line_id is not None else None
    territory: Territory | None = line.juridiction.territory if line is not None else None
    hours = (
        line_admin.hours_of(territory)
        if territory is not None
        else AssistanceHours("75", NATIONAL_TIMEZONE)  # a platform incident: the centre's own clock
    )
    reference = ""
    if line is not None:
        reference = session.scalar(
            select(LineAssignment.reference)
            .where(
                LineAssignment.line_id == line.id,
                LineAssignment.created_at <= ticket.reported_at,
            )
            .order_by(LineAssignment.assignment_index.desc())
            .limit(1)
        ) or next((a.reference for a in line.assignments if a.is_current), "")
    terminal = session.get(Terminal, ticket.terminal_id) if ticket.terminal_id else None
    swap_row = session.scalar(select(Swap).where(Swap.incident_id == ticket.id).limit(1))
    swap = None
    if swap_row is not None:
        new = session.get(Terminal, swap_row.new_terminal_id)
        deadline = ticket.deadline_at or hours.swap_deadline(swap_row.reported_at)
        swap = SwapInfo(
            new_imei=new.imei if new else "",
            swapped_at=swap_row.swapped_at,
            delay=hours.opening_time_between(swap_row.reported_at, swap_row.swapped_at),
            is_late=swap_row.under_warranty is not False and swap_row.swapped_at > deadline,
        )
    left = None
    runs = (
        ticket.status is not TicketStatus.RESOLU
        and ticket.deadline_at is not None
        and ticket.needs_swap is not False
        and ticket.under_warranty is not False
    )
    if runs and ticket.deadline_at is not None:
        now = clock.now()
        left = (
            hours.opening_time_between(now, ticket.deadline_at)
            if now < ticket.deadline_at
            else -hours.opening_time_between(ticket.deadline_at, now)
        )
    organisation = (
        session.get(Organisation, ticket.reported_by_org_id) if ticket.reported_by_org_id else None
    )
    return TicketView(
        id=ticket.id,
        reference=reference or "—",
        line_id=ticket.line_id,
        kind=ticket.kind,
        status=ticket.status,
        channel=ticket.channel,
        reporter_kind=ticket.reporter_kind,
        organisation=organisation.name if organisation else None,
        reported_at=ticket.reported_at,
        clock_started_at=ticket.clock_started_at,
        deadline_at=ticket.deadline_at,
        timezone=hours.timezone,
        territory=territory.name if territory is not None else "",
        queued_because=_queued_because(ticket, hours),
        diagnosis=ticket.diagnosis,
        advice=ticket.answer,
        resolution=ticket.resolution,
        resolved_at=ticket.resolved_at,
        needs_swap=ticket.needs_swap,
        under_warranty=ticket.under_warranty,
        terminal_imei=terminal.imei if terminal else None,
        terminal_model=terminal.model if terminal else None,
        warranty_end=terminal.warranty_end if terminal else None,
        swap=swap,
        opening_time_left=left,
    )


def list_tickets(
    session: Session, user: User, *, clock: Clock, limit: int = 200
) -> list[TicketView]:
    """List the tickets of the user's scope: open ones first, by deadline, then the latest."""
    query = policy.scoped(select(Incident), user, Incident)
    tickets = list(session.scalars(query.order_by(Incident.reported_at.desc()).limit(limit)))
    views = [ticket_view(session, t, clock=clock) for t in tickets]
    far = datetime.max.replace(tzinfo=clock.now().tzinfo)
    opened = sorted((v for v in views if v.is_open), key=lambda v: (v.deadline_at or far, v.id))
    return opened + [v for v in views if not v.is_open]


def line_for_reference(session: Session, user: User, reference: str) -> Line:
    """Return the line carrying this reference in the user's scope (else the same field error)."""
    parsed = Reference.try_parse(reference)
    found = next(
        (i for i, r in reportable_lines(session, user) if parsed is not None and r == str(parsed)),
        None,
    )
    line = session.get(Line, found) if found is not None else None
    if line is None:
        raise FieldErrors(
            {"reference": [(N_("Aucune ligne ne porte la référence %(v)s."), {"v": reference})]}
        )
    return line
