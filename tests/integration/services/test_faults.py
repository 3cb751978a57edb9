"""Fault tickets of the assistance centre (R-18): reception, clock, diagnosis, swap, breaches.

The clock is Monday 23 November 2026, 10:30 in Paris (09:30 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models import (
    BeneficiaryFile,
    Incident,
    IncidentKind,
    Line,
    Organisation,
    OrganisationKind,
    ServiceLevelBreach,
    Swap,
    TicketChannel,
    TicketResolution,
    TicketStatus,
    User,
)
from tgd.domain.errors import Conflict
from tgd.domain.lifecycle import FileState
from tgd.domain.navettes import FieldErrors
from tgd.services import destruction, faults, inventory, service_levels

PARIS = ZoneInfo("Europe/Paris")
REUNION = ZoneInfo("Indian/Reunion")
LINE_1 = "M 75 75056 01 1"
REPORT = faults.FaultReport("L'écran reste noir.", "Greffe", "01 40 00 00 00")


@pytest.fixture
def centre(session: Session, platform: Platform, clock: FrozenClock) -> None:
    """Paris and its parquet, La Réunion and its association, each with its line 01 assigned
    (a file, a handset under warranty), a spare handset in stock, a parquet and an operator."""
    paris = builders.juridiction(session, insee="75056", clock=clock)
    reunion = builders.juridiction(session, insee="97411", clock=clock)
    builders.organisation(session, kind=OrganisationKind.PARQUET, juridiction=paris, clock=clock)
    builders.organisation(
        session, kind=OrganisationKind.ASSOCIATION, juridiction=reunion, clock=clock
    )
    numbers = {paris: "+33612340001", reunion: "+262692340001"}
    builders.delivery(session, msisdns=list(numbers.values()), spares=1, clock=clock)
    for juridiction, msisdn in numbers.items():
        builders.assigned_file(
            session, juridiction=juridiction, msisdn=msisdn, cipher=platform.cipher, clock=clock
        )
    builders.users_of(
        session,
        builders.PARQUET_AND_OPERATOR,
        cipher=platform.cipher,
        hasher=platform.hasher,
        clock=clock,
    )


def user(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def report(session: Session, platform: Platform, clock: FrozenClock, **kwargs: object) -> Incident:
    values: dict[str, object] = {
        "reference": LINE_1,
        "kind": IncidentKind.PANNE_TERMINAL,
        "report": REPORT,
        "channel": TicketChannel.PORTAIL,
        "user": user(session, "parquet.paris"),
    }
    values.update(kwargs)
    return faults.report_fault(session, cipher=platform.cipher, clock=clock, **values)  # type: ignore[arg-type]


def test_a_parquet_report_in_opening_hours_starts_the_clock_at_once(
    session: Session, centre: None, platform: Platform, clock: FrozenClock
) -> None:
    ticket = report(session, platform, clock)
    assert ticket.status is TicketStatus.OUVERT and ticket.channel is TicketChannel.PORTAIL
    assert ticket.reported_at == ticket.clock_started_at == clock.now()
    # Monday 10:30 + 24 opening hours: 7.5 (Monday) + 9 (Tuesday) + 7.5 → Wednesday 16:30.
    assert ticket.deadline_at == datetime(2026, 11, 25, 16, 30, tzinfo=PARIS)
    parquet = session.get(Organisation, ticket.reported_by_org_id)
    assert parquet is not None and parquet.name.startswith("Parquet")
    assert ticket.reporter_kind == "parquet" and ticket.under_warranty is True


def test_what_the_reporter_wrote_is_encrypted_under_the_file_key(
    session: Session, centre: None, platform: Platform, clock: FrozenClock
) -> None:
    ticket = report(session, platform, clock)
    file = session.get(BeneficiaryFile, ticket.file_id)
    assert file is not None and ticket.data_key_id == file.data_key_id
    assert ticket.report_enc is not None and b"noir" not in ticket.report_enc
    assert faults.read_report(session, ticket, cipher=platform.cipher) == faults.FaultReport(
        "L'écran reste noir.", "Greffe", "+33140000000"
    )


def test_destroying_the_file_destroys_what_the_reporter_wrote(
    session: Session, centre: None, platform: Platform, clock: FrozenClock
) -> None:
    ticket = report(session, platform, clock)
    file = session.get(BeneficiaryFile, ticket.file_id)
    assert file is not None
    file.state, file.closed_at = FileState.CLOTURE, clock.now()
    destruction.destroy_file(
        session, file, cipher=platform.cipher, rule="test", actor="system:test", clock=clock
    )
    session.refresh(ticket)
    assert ticket.report_enc is None and ticket.data_key_id is None
    assert faults.read_report(session, ticket, cipher=platform.cipher) is None
    assert ticket.kind is IncidentKind.PANNE_TERMINAL  # the anonymous ticket stays for reports


@pytest.mark.parametrize("reference", ["M 974 97411 01 1", "M 75 75056 42 1", "n'importe quoi"])
def test_another_courts_line_answers_like_an_unknown_one(
    session: Session, centre: None, platform: Platform, clock: FrozenClock, reference: str
) -> None:
    with pytest.raises(FieldErrors) as refused:
        report(session, platform, clock, reference=reference)
    assert refused.value.errors["reference"][0][0] == "Aucune ligne ne porte la référence %(v)s."


def test_a_report_needs_symptoms_and_a_number_to_call_back(
    session: Session, centre: None, platform: Platform, clock: FrozenClock
) -> None:
    with pytest.raises(FieldErrors) as refused:
        report(session, platform, clock, report=faults.FaultReport(" ", "", ""))
    assert set(refused.value.errors) == {"symptoms", "contact_phone"}


def test_a_report_on_sunday_is_queued_until_monday_nine(
    session: Session, centre: None, platform: Platform, clock: FrozenClock
) -> None:
    sunday = FrozenClock(datetime(2026, 11, 22, 15, 0, tzinfo=PARIS))
    ticket = report(session, platform, sunday)
    assert ticket.clock_started_at == datetime(2026, 11, 23, 9, 0, tzinfo=PARIS)
    view = faults.ticket_view(session, ticket, clock=clock)
    assert view.queued_because == "dimanche"
    assert view.opening_time_left == timedelta(hours=22, minutes=30)  # 1.5 h used by 10:30


def test_a_phone_report_on_20_december_in_la_reunion_waits_for_the_holiday(
    session: Session, centre: None, platform: Platform
) -> None:
    # Saturday 18 December 2027, 17:30 in La Réunion; Sunday closed; Monday 20 December is the
    # abolition of slavery there: 0.5 + 9 (Tuesday) + 9 (Wednesday) + 5.5 → Thursday 14:30.
    now = FrozenClock(datetime(2027, 12, 18, 18, 0, tzinfo=REUNION))
    ticket = report(
        session,
        platform,
        now,
        reference="M 974 97411 01 1",
        kind=IncidentKind.BATTERIE,
        channel=TicketChannel.TELEPHONE,
        user=user(session, "operateur"),
        reporter_kind="association",
        received_at=datetime(2027, 12, 18, 17, 30, tzinfo=REUNION),
    )
    assert ticket.clock_started_at == datetime(2027, 12, 18, 17, 30, tzinfo=REUNION)
    assert ticket.deadline_at == datetime(2027, 12, 23, 14, 30, tzinfo=REUNION)
    assert ticket.reporter_kind == "association" and ticket.reported_by_org_id is not None


def test_a_call_cannot_be_received_in_the_future(
    session: Session, centre: None, platform: Platform, clock: FrozenClock
) -> None:
    with pytest.raises(FieldErrors) as refused:
        report(
            session,
            platform,
            clock,
            channel=TicketChannel.TELEPHONE,
            user=user(session, "operateur"),
            reporter_kind="parquet",
            received_at=clock.now() + timedelta(minutes=5),
        )
    assert "received_at" in refused.value.errors


def test_diagnosis_then_swap_keeps_the_line_and_its_reference(
    session: Session, centre: None, platform: Platform, clock: FrozenClock
) -> None:
    ticket = report(session, platform, clock)
    operator = user(session, "operateur")
    with pytest.raises(Conflict, match="diagnostic"):
        faults.swap_for_ticket(
            session,
            ticket,
            new_imei="0",
            model="",
            swapped_at=None,
            cause="",
            user=operator,
            clock=clock,
        )
    faults.diagnose(
        session,
        ticket,
        kind=IncidentKind.PANNE_TERMINAL,
        diagnosis="écran défaillant",
        advice="redémarrage essayé",
        decision=faults.Decision.ECHANGE,
        user=operator,
        clock=clock,
    )
    assert ticket.status is TicketStatus.EN_COURS and ticket.needs_swap is True
    line = session.get(Line, ticket.line_id)
    assert line is not None
    old = line.terminal_id
    spare = inventory.stock_terminals(session)[0]
    clock.advance(hours=3)
    result = faults.swap_for_ticket(
        session,
        ticket,
        new_imei=spare.imei,
        model="",
        swapped_at=None,
        cause="",
        user=operator,
        clock=clock,
    )
    assert not result.is_late and result.delay == timedelta(hours=3)
    assert line.terminal is spare and line.terminal_id != old
    assert next(a.reference for a in line.assignments if a.is_current) == LINE_1
    assert ticket.status is TicketStatus.RESOLU and ticket.resolution is TicketResolution.ECHANGE
    swap = session.scalars(select(Swap).where(Swap.incident_id == ticket.id)).one()
    assert swap.cause == "écran défaillant" and ticket.resolved_at == swap.swapped_at
    view = faults.ticket_view(session, ticket, clock=clock)
    assert view.swap is not None and view.swap.new_imei == spare.imei and not view.is_open
    with pytest.raises(Conflict, match="déjà résolu"):
        faults.close_ticket(
            session, ticket, resolution=TicketResolution.CONSEIL, user=operator, clock=clock
        )


def _levels(session: Session, platform: Platform, clock: FrozenClock) -> list[ServiceLevelBreach]:
    service_levels.check_service_levels(session, settings=platform.settings, clock=clock)
    return list(
        session.scalars(select(ServiceLevelBreach).where(ServiceLevelBreach.kind == "swap_24h"))
    )


def test_a_ticket_waiting_past_24_opening_hours_is_a_breach_until_its_swap(
    session: Session, centre: None, platform: Platform, clock: FrozenClock
) -> None:
    thursday = FrozenClock(clock.now() - timedelta(days=4))  # Thursday 10:30 in Paris
    ticket = report(session, platform, thursday)
    operator = user(session, "operateur")
    faults.diagnose(
        session,
        ticket,
        kind=IncidentKind.PANNE_TERMINAL,
        diagnosis="écran",
        advice="",
        decision=faults.Decision.ECHANGE,
        user=operator,
        clock=thursday,
    )
    # Thursday 7.5 + Friday 9 + Saturday 9 + Monday 1.5 = 27 opening hours by now.
    running = _levels(session, platform, clock)
    assert [(b.subject_type, b.subject_id, b.ended_at) for b in running] == [
        ("incident", ticket.id, None)
    ]
    assert running[0].deadline_at == ticket.deadline_at
    faults.swap_for_ticket(
        session,
        ticket,
        new_imei=inventory.stock_terminals(session)[0].imei,
        model="",
        swapped_at=None,
        cause="",
        user=operator,
        clock=clock,
    )
    done = _levels(session, platform, clock)
    assert len(done) == 1 and done[0].delay_seconds == 27 * 3600


def test_advice_that_fixes_it_is_not_a_breach(
    session: Session, centre: None, platform: Platform, clock: FrozenClock
) -> None:
    thursday = FrozenClock(clock.now() - timedelta(days=4))
    ticket = report(session, platform, thursday, kind=IncidentKind.BATTERIE)
    faults.diagnose(
        session,
        ticket,
        kind=IncidentKind.BATTERIE,
        diagnosis="économie d'énergie désactivée",
        advice="réactivée",
        decision=faults.Decision.CONSEIL,
        user=user(session, "operateur"),
        clock=thursday,
    )
    assert ticket.status is TicketStatus.RESOLU and ticket.resolution is TicketResolution.CONSEIL
    assert _levels(session, platform, clock) == []


def test_a_handset_out_of_warranty_runs_no_swap_clock(
    session: Session, centre: None, platform: Platform, clock: FrozenClock
) -> None:
    line = session.scalars(select(Line).where(Line.msisdn == "+33612340001")).one()
    assert line.terminal is not None
    line.terminal.warranty_end = datetime(2026, 1, 31, tzinfo=UTC).date()
    ticket = report(session, platform, FrozenClock(clock.now() - timedelta(days=4)))
    assert ticket.under_warranty is False
    assert _levels(session, platform, clock) == []
