"""A past for the demo (``tgd demo load``): last quarter's alerts, tests, incidents, a closure.

So that ``make run`` shows what a running centre has: committee reports for the last
quarter with rows in every table, late tests chased, a service-level breach, a swap,
and a file closed five months ago that the destruction job destroys (R-16). Dates are
relative to the clock: the quarter before the current one, in Paris time. Everything
is fictitious, like the rest of the demo data.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.adapters.clock import FrozenClock
from tgd.db.models.alerts import Alert, CallLeg
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.incidents import Incident, IncidentKind
from tgd.db.models.lines import Line, LineAssignment, Swap, Terminal
from tgd.db.models.navettes import Navette
from tgd.db.models.operations import Task
from tgd.db.models.territories import Juridiction
from tgd.domain.alerts import AlertNature, AlertState, LegRole, Orientation
from tgd.domain.beneficiary import Address, PersonalData
from tgd.domain.lifecycle import FileState, LineStatus, NavetteKind, NavetteSource, NavetteState
from tgd.ports import Cipher, Clock
from tgd.services import files as files_service
from tgd.services import lines, termination
from tgd.settings import RetentionSettings

PARIS = ZoneInfo("Europe/Paris")
CLOSED_LINE = "+33612340007"  # the demo line whose file was closed five months ago


def previous_quarter_start(now: datetime) -> datetime:
    """Return the first day (10:00 Paris) of the quarter before ``now``'s."""
    local = now.astimezone(PARIS)
    first_month = 3 * ((local.month - 1) // 3) + 1
    year, month = (local.year, first_month - 3) if first_month > 3 else (local.year - 1, 10)
    return datetime(year, month, 1, 10, 0, tzinfo=PARIS).astimezone(UTC)


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
        *,
        pickup_s: int = 5,
        police_after_s: int | None = None,
        duration_s: int = 60,
        cause: str | None = None,
    ) -> Alert:
        """Add one closed alert from a file's terminal."""
        n = next(self.ids)
        assignment = self.session.get(LineAssignment, file.assignment_id)
        assert assignment is not None
        line = self.session.get(Line, assignment.line_id)
        assert line is not None
        claimed = at + timedelta(seconds=pickup_s)
        alert = Alert(
            call_sid=f"CAdemohistory{n:06d}",
            territory_id=line.juridiction.territory_id,
            line_id=line.id,
            assignment_id=assignment.id,
            file_id=file.id,
            reference=assignment.reference,
            conference_name=f"tgd-demo-history-{n:06d}",
            state=AlertState.CLOSED,
            nature=nature,
            orientation=orientation,
            is_test=nature is AlertNature.ESSAI,
            ringing_at=at,
            answered_at=at,
            claimed_at=claimed,
            police_called_at=claimed + timedelta(seconds=police_after_s)
            if police_after_s
            else None,
            ended_at=at + timedelta(seconds=duration_s),
            closed_at=at + timedelta(seconds=duration_s + 60),
            non_compliance_cause=cause,
            created_at=at,
        )
        self.session.add(alert)
        self.session.flush()
        self.session.add(
            CallLeg(
                alert_id=alert.id,
                call_sid=f"CAdemoleg{n:06d}",
                role=LegRole.CALLER,
                status="completed",
                started_at=at,
                answered_at=at,
                ended_at=at + timedelta(seconds=duration_s),
                duration_s=duration_s,
            )
        )
        if nature is AlertNature.ESSAI:
            file.last_test_call_at = max(file.last_test_call_at or at, at)
        return alert

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
    _incident_and_swap(session, f1, h)
    _late_navette_and_chase(session, f1, f2, h)
    _closed_file(session, files, h, retention=retention, cipher=cipher, clock=clock)
    session.flush()


def _incident_and_swap(session: Session, file: BeneficiaryFile, h: _History) -> None:
    """A broken screen, the terminal swapped in 30 hours (over the 24-hour target, R-18)."""
    line = session.get(Line, file.assignment.line_id)
    assert line is not None
    incident = Incident(
        kind=IncidentKind.PANNE_TERMINAL,
        line_id=line.id,
        reported_at=h.at(9, 9),
        description="écran noir",
        diagnosis="écran défaillant",
        answer="terminal échangé",
        resolved_at=h.at(10, 15),
    )
    spare = Terminal(imei="359999999999999", model="TGD-2", created_at=h.start - timedelta(days=90))
    session.add_all([incident, spare])
    session.flush()
    session.add(
        Swap(
            line_id=line.id,
            old_terminal_id=line.terminal_id,
            new_terminal_id=spare.id,
            incident_id=incident.id,
            reported_at=h.at(9, 9),
            swapped_at=h.at(10, 15),
            cause="écran défaillant",
        )
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
        iccid="8933150000000000099",
        imei="350000000000099",
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
