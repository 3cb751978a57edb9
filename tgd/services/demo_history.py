"""A past for the demo (``tgd demo load``): last quarter's alerts, tests, faults, a closure.

So that ``make run`` shows what a running centre has: committee reports for the last
quarter with rows in every table, late tests chased, a service-level breach, fault
tickets handled by the assistance centre (one queued over a week-end and swapped late,
one solved by advice, one swapped in time), one ticket open today, and a file closed
five months ago that the destruction job destroys (R-16). Dates are relative to the
clock: the quarter before the current one, in Paris time. The tickets go through the
same services as the pages (``tgd.services.faults``). Everything is fictitious, like the
rest of the demo data.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.adapters.clock import FrozenClock
from tgd.db.models.alerts import Alert, CallLeg
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.incidents import Incident, IncidentKind, TicketChannel
from tgd.db.models.inventory import Delivery
from tgd.db.models.lines import Line, LineAssignment, Sim, Terminal
from tgd.db.models.navettes import Navette
from tgd.db.models.operations import Task
from tgd.db.models.territories import Juridiction
from tgd.db.models.users import User
from tgd.domain.alerts import AlertNature, AlertState, LegRole, Orientation
from tgd.domain.beneficiary import Address, PersonalData
from tgd.domain.lifecycle import FileState, LineStatus, NavetteKind, NavetteSource, NavetteState
from tgd.ports import Cipher, Clock
from tgd.services import faults, inventory, lines, termination
from tgd.services import files as files_service
from tgd.services.demo import demo_iccid, demo_imei
from tgd.settings import RetentionSettings

PARIS = ZoneInfo("Europe/Paris")
CLOSED_LINE = "+33612340007"  # the demo line whose file was closed five months ago


def previous_quarter_start(now: datetime) -> datetime:
    """Return the first day (10:00 Paris) of the quarter before ``now``'s."""
    local = now.astimezone(PARIS)
    first_month = 3 * ((local.month - 1) // 3) + 1
    year, month = (local.year, first_month - 3) if first_month > 3 else (local.year - 1, 10)
    return datetime(year, month, 1, 10, 0, tzinfo=PARIS).astimezone(UTC)


def closed_alert(
    session: Session,
    file: BeneficiaryFile,
    at: datetime,
    nature: AlertNature,
    name: str,
    orientation: Orientation | None = None,
    *,
    pickup_s: int = 5,
    police_after_s: int | None = None,
    duration_s: int = 60,
    cause: str | None = None,
    canary: bool = False,
) -> Alert:
    """Add a closed past alert from a file's terminal, with its caller leg (history, fixtures).

    ``name`` makes its call ids and bridge unique. A test call counts as the file's last
    test (R-30). Picked up ``pickup_s`` after the ring, police called ``police_after_s``
    after that, the call lasting ``duration_s`` and the alert closed a minute later.
    """
    assignment = session.get(LineAssignment, file.assignment_id)
    assert assignment is not None
    line = session.get(Line, assignment.line_id)
    assert line is not None
    claimed = at + timedelta(seconds=pickup_s)
    ended = at + timedelta(seconds=duration_s)
    alert = Alert(
        call_sid=f"CA{name}",
        territory_id=line.juridiction.territory_id,
        line_id=line.id,
        assignment_id=assignment.id,
        file_id=file.id,
        reference=assignment.reference,
        conference_name=f"tgd-{name}",
        state=AlertState.CLOSED,
        nature=nature,
        orientation=orientation,
        is_test=nature is AlertNature.ESSAI,
        is_canary=canary,
        ringing_at=at,
        answered_at=at,
        claimed_at=claimed,
        police_called_at=claimed + timedelta(seconds=police_after_s) if police_after_s else None,
        ended_at=ended,
        closed_at=ended + timedelta(seconds=60),
        non_compliance_cause=cause,
        created_at=at,
    )
    session.add(alert)
    session.flush()
    session.add(
        CallLeg(
            alert_id=alert.id,
            call_sid=f"CA{name}caller",
            role=LegRole.CALLER,
            status="completed",
            started_at=at,
            answered_at=at,
            ended_at=ended,
            duration_s=duration_s,
        )
    )
    if nature is AlertNature.ESSAI:
        file.last_test_call_at = max(file.last_test_call_at or at, at)
    return alert


class _History:
    """Adds closed alerts with their caller leg, numbered uniquely."""

    def __init__(self, session: Session, start: datetime) -> None:
        self.session = session
        self.start = start
        self.ids = itertools.count(1)

    def at(self, day: int, hour: int = 10, minute: int = 0) -> datetime:
        """Return a moment of the quarter: ``day`` days after its start, at a Paris time."""
        local = (self.start + timedelta(days=day)).astimezone(PARIS)
        return local.replace(hour=hour, minute=minute).astimezone(UTC)

    def alert(
        self,
        file: BeneficiaryFile,
        at: datetime,
        nature: AlertNature,
        orientation: Orientation,
        **timing: Any,
    ) -> Alert:
        """Add one closed alert from a file's terminal (``closed_alert``'s timing options)."""
        return closed_alert(
            self.session,
            file,
            at,
            nature,
            f"demohistory{next(self.ids):06d}",
            orientation,
            **timing,
        )

    def tests(self, file: BeneficiaryFile, days: list[int]) -> None:
        """Add the twice-monthly test calls of a file (R-30) on these days of the quarter."""
        for day in days:
            self.alert(file, self.at(day, 18), AlertNature.ESSAI, Orientation.AUCUNE, duration_s=20)


def add_history(
    session: Session, *, retention: RetentionSettings, cipher: Cipher, clock: Clock
) -> None:
    """Give the demo data last quarter's activity and a file closed five months ago."""
    start = previous_quarter_start(clock.now())
    h = _History(session, start)
    for line in session.scalars(select(Line)):
        line.created_at = start - timedelta(days=90)
    delivered = start - timedelta(days=100)  # the supplier's note came before the lines
    for delivery in session.scalars(select(Delivery)):
        delivery.imported_at = delivered
    for item in [*session.scalars(select(Terminal)), *session.scalars(select(Sim))]:
        item.created_at = delivered
    files = {
        f.assignment.reference: f
        for f in session.scalars(select(BeneficiaryFile).join(BeneficiaryFile.assignment))
    }
    for f in files.values():
        f.created_at = start - timedelta(days=60)
        if f.commissioned_at is not None:
            f.commissioned_at = start - timedelta(days=40)
    f1, f2 = files["M 75 75056 01 1"], files["M 75 75056 02 1"]
    reunion, spm = files["M 974 97411 01 1"], files["M 975 97502 01 1"]
    # Line 01: tests with a late stretch (days 16 to 50), an alert with the police called.
    h.tests(f1, [2, 16, 50, 63, 77, 89])
    h.alert(
        f1,
        h.at(35, 22, 14),
        AlertNature.DANGER_REEL,
        Orientation.FORCES_ALERTEES,
        pickup_s=6,
        police_after_s=90,
        duration_s=600,
    )
    h.alert(
        f1,
        h.at(61, 3, 2),
        AlertNature.DEMANDE_SOUTIEN,
        Orientation.SOUTIEN,
        pickup_s=25,
        duration_s=300,
    )
    # Line 02: regular tests and a non-compliant call.
    h.tests(f2, [0, 13, 27, 40, 54, 67, 81])
    h.alert(
        f2,
        h.at(42, 14),
        AlertNature.NON_CONFORME,
        Orientation.AUTRE,
        duration_s=90,
        cause="appel sans rapport avec le dispositif",
    )
    # Overseas: La Réunion and Saint-Pierre-et-Miquelon.
    h.tests(reunion, [3, 17, 31, 45, 59, 73, 87])
    h.alert(
        reunion,
        h.at(20, 23, 40),
        AlertNature.DANGER_REEL,
        Orientation.FORCES_ALERTEES,
        pickup_s=8,
        police_after_s=120,
        duration_s=420,
    )
    h.tests(spm, [5, 19, 33, 47, 61, 75, 88])
    h.alert(
        spm, h.at(50, 9, 5), AlertNature.ACCIDENTEL, Orientation.AUCUNE, pickup_s=4, duration_s=15
    )
    _fault_tickets(session, files, h, cipher=cipher, clock=clock)
    _late_navette_and_chase(session, f1, f2, h)
    _closed_file(session, files, h, retention=retention, cipher=cipher, clock=clock)
    session.flush()


def _line_of(session: Session, file: BeneficiaryFile) -> Line:
    line = session.get(Line, file.assignment.line_id)
    assert line is not None
    return line


def _weekday_at(h: _History, day: int, weekday: int, hour: int, minute: int = 0) -> datetime:
    """Return the first ``weekday`` (0 = Monday) on or after quarter day ``day``, at Paris time."""
    moment = h.at(day, hour, minute)
    local = moment.astimezone(PARIS)
    return h.at(day + (weekday - local.weekday()) % 7, hour, minute)


class _Desk:
    """The assistance centre's operator, handling the demo's tickets at past instants.

    ``past`` is the clock every step reads: each story sets it before the step.
    """

    def __init__(
        self, session: Session, operator: User, *, cipher: Cipher, past: FrozenClock
    ) -> None:
        self.session = session
        self.operator = operator
        self.cipher = cipher
        self.past = past
        self.spares = iter(inventory.stock_terminals(session))

    def phoned(
        self,
        reference: str,
        kind: IncidentKind,
        report: faults.FaultReport,
        *,
        reporter_kind: str,
        received_at: datetime,
    ) -> Incident:
        """Record a fault reported by phone (its reception time typed by the operator)."""
        return faults.report_fault(
            self.session,
            reference=reference,
            kind=kind,
            report=report,
            channel=TicketChannel.TELEPHONE,
            user=self.operator,
            reporter_kind=reporter_kind,
            received_at=received_at,
            cipher=self.cipher,
            clock=self.past,
        )

    def diagnose(
        self,
        ticket: Incident,
        kind: IncidentKind,
        *,
        diagnosis: str,
        advice: str,
        decision: faults.Decision,
    ) -> None:
        faults.diagnose(
            self.session,
            ticket,
            kind=kind,
            diagnosis=diagnosis,
            advice=advice,
            decision=decision,
            user=self.operator,
            clock=self.past,
        )

    def swap(self, ticket: Incident, cause: str) -> None:
        """Swap the ticket's handset for the next spare in stock, now (``past``)."""
        faults.swap_for_ticket(
            self.session,
            ticket,
            new_imei=next(self.spares).imei,
            model="",
            swapped_at=None,
            cause=cause,
            user=self.operator,
            clock=self.past,
        )


def _fault_tickets(
    session: Session,
    files: dict[str, BeneficiaryFile],
    h: _History,
    *,
    cipher: Cipher,
    clock: Clock,
) -> None:
    """Fault tickets through the assistance centre's services (R-18), at past instants."""
    users = {u.username: u for u in session.scalars(select(User))}
    parquet = users["parquet.paris"]
    desk = _Desk(session, users["operateur"], cipher=cipher, past=FrozenClock(h.start))
    past = desk.past
    # Paris, line 01: the parquet reports a black screen on the portal on a Saturday at
    # 19:00, after closing time: the clock starts at the next opening. The handset is
    # swapped 30 opening hours later, over the 24 of the contract (a breach).
    line = _line_of(session, files["M 75 75056 01 1"])
    past.set(_weekday_at(h, 8, 5, 19))
    ticket = faults.report_fault(
        session,
        reference="M 75 75056 01 1",
        kind=IncidentKind.PANNE_TERMINAL,
        report=faults.FaultReport(
            "L'écran reste noir, la touche raccourci ne répond plus.",
            "Greffe du parquet (démo)",
            "+33140000000",
        ),
        channel=TicketChannel.PORTAIL,
        user=parquet,
        cipher=cipher,
        clock=past,
    )
    assert ticket.clock_started_at is not None
    past.set(ticket.clock_started_at + timedelta(minutes=40))
    desk.diagnose(
        ticket,
        IncidentKind.PANNE_TERMINAL,
        diagnosis="écran défaillant",
        advice="redémarrage complet essayé avec le parquet, sans effet",
        decision=faults.Decision.ECHANGE,
    )
    past.set(faults.hours_for_line(line).add_opening_hours(ticket.clock_started_at, 30))
    desk.swap(ticket, "écran défaillant")
    # La Réunion, line 01: the association phones on a Tuesday afternoon (local time); the
    # battery drains because the energy saver was off: solved by the advice given.
    received = _weekday_at(h, 20, 1, 10)  # 10:00 Paris is 13:00 or 14:00 in La Réunion
    past.set(received + timedelta(minutes=15))
    ticket = desk.phoned(
        "M 974 97411 01 1",
        IncidentKind.BATTERIE,
        faults.FaultReport(
            "La batterie se vide en une demi-journée.",
            "Référente de l'association",
            "+262262000000",
        ),
        reporter_kind="association",
        received_at=received,
    )
    past.set(received + timedelta(minutes=30))
    desk.diagnose(
        ticket,
        IncidentKind.BATTERIE,
        diagnosis="mode économie d'énergie désactivé",
        advice="mode économie réactivé à distance ; recharger le terminal chaque soir",
        decision=faults.Decision.CONSEIL,
    )
    # Saint-Pierre-et-Miquelon, line 01: the parquet phones on a Wednesday at 17:30 local
    # time about a swollen battery; the handset is swapped the next morning, in time.
    line = _line_of(session, files["M 975 97502 01 1"])
    hours = faults.hours_for_line(line)
    day = hours.local_day(_weekday_at(h, 47, 2, 12))
    received = hours.clock_start(datetime.combine(day, time(17, 30), tzinfo=hours.zone))
    past.set(received + timedelta(minutes=10))
    ticket = desk.phoned(
        "M 975 97502 01 1",
        IncidentKind.BATTERIE,
        faults.FaultReport("La batterie a gonflé.", "Parquet de Saint-Pierre", "+508410000"),
        reporter_kind="parquet",
        received_at=received,
    )
    past.set(received + timedelta(minutes=20))
    desk.diagnose(
        ticket,
        IncidentKind.BATTERIE,
        diagnosis="batterie gonflée : terminal à remplacer",
        advice="ne plus recharger le terminal en attendant l'échange",
        decision=faults.Decision.ECHANGE,
    )
    past.set(hours.add_opening_hours(received, 3))
    desk.swap(ticket, "batterie gonflée")
    # Today: the Paris parquet has just reported that line 02 no longer rings; the ticket
    # waits in the operators' queue (/pannes/).
    faults.report_fault(
        session,
        reference="M 75 75056 02 1",
        kind=IncidentKind.PANNE_TERMINAL,
        report=faults.FaultReport(
            "Le terminal ne sonne plus quand on l'appelle.",
            "Greffe du parquet (démo)",
            "+33140000000",
        ),
        channel=TicketChannel.PORTAIL,
        user=parquet,
        cipher=cipher,
        clock=FrozenClock(clock.now() - timedelta(minutes=30)),
    )


def _late_navette_and_chase(
    session: Session, f1: BeneficiaryFile, f2: BeneficiaryFile, h: _History
) -> None:
    """An attribution turned into a file in 25 minutes (R-10 breach) and a test chase (R-30)."""
    session.add(
        Navette(
            kind=NavetteKind.ATTRIBUTION,
            source=NavetteSource.PORTAIL,
            state=NavetteState.TRAITEE,
            juridiction_id=f2.juridiction_id,
            file_id=f2.id,
            reference=f2.assignment.reference,
            received_at=h.at(1, 10),
            deadline_at=h.at(1, 10, 15),
            processed_at=h.at(1, 10, 25),
            is_breach=True,
        )
    )
    session.add(
        Task(
            kind="test_chase",
            file_id=f1.id,
            status="closed",
            due_at=h.at(32),
            created_at=h.at(32),
            closed_at=h.at(50),
        )
    )


CLOSED_PERSON = PersonalData(
    last_name="Garcia-Démo",
    first_name="Lucie",
    residence=Address("18 rue des Peupliers-Démo", "75013", "Paris", 48.8290, 2.3560),
)


def _closed_file(
    session: Session,
    files: dict[str, BeneficiaryFile],
    h: _History,
    *,
    retention: RetentionSettings,
    cipher: Cipher,
    clock: Clock,
) -> None:
    """A line 07 whose file was closed five months ago, as the termination does (R-15)."""
    del files
    opened_at = clock.now() - timedelta(days=300)
    closed_at = clock.now() - timedelta(days=150)
    past = FrozenClock(opened_at)
    paris = session.scalars(select(Juridiction).where(Juridiction.insee == "75056")).one()
    record = lines.add_line(
        session,
        juridiction=paris,
        order_no=7,
        msisdn=CLOSED_LINE,
        iccid=demo_iccid(99),
        imei=demo_imei(99),
        clock=past,
    )
    for status in (LineStatus.EN_ATTENTE, LineStatus.MISE_EN_SERVICE, LineStatus.AFFECTE):
        lines.change_status(session, record, status, user_id=None, clock=past)
    file = files_service.open_file(
        session, assignment=record, personal=CLOSED_PERSON, cipher=cipher, clock=past
    )
    file.state = FileState.ATTRIBUE
    file.commissioned_at = opened_at + timedelta(days=1)
    past.set(closed_at - timedelta(days=3))
    lines.change_status(session, record, LineStatus.RESILIATION_DEMANDEE, user_id=None, clock=past)
    file.state = FileState.RESILIATION_DEMANDEE
    file.termination_requested_at = past.now()
    past.set(closed_at)
    termination.close_file(session, file, user=None, settings=retention, cipher=cipher, clock=past)
