"""The life of a file through the services (R-10..R-17): attribution to Y+1 record."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from odf import teletype
from odf.opendocument import load as load_odt
from odf.text import H, P
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import builders
from tgd.container import Platform
from tgd.db.models.alerts import Alert
from tgd.db.models.audit import AuditEntry
from tgd.db.models.beneficiaries import BeneficiaryFile, TemporaryInfo
from tgd.db.models.lines import LineAssignment
from tgd.db.models.navettes import Navette
from tgd.db.models.operations import Task, TaskStep
from tgd.domain.alerts import AlertNature, AlertState
from tgd.domain.beneficiary import Address, PersonalData
from tgd.domain.errors import Conflict
from tgd.domain.lifecycle import CommissioningStep, FileState, LineStatus, NavetteState
from tgd.domain.navettes import (
    Attribution,
    FieldErrors,
    TemporaryInformation,
    Termination,
    Update,
)
from tgd.services import commissioning, exports, files, navettes, termination

from .conftest import ASSIGNED_LINE, FREE_LINE, REUNION_FREE_LINE, user

PERSON = PersonalData(
    last_name="Martin-Canari",
    first_name="Léa",
    birth_date=date(1990, 5, 17),
    residence=Address("5 rue des Canaris", "75011", "Paris"),
    other_phones=("06 98 76 00 99",),
    remarks="Auteur domicilié à Créteil.",
)


SECOND_ASSIGNED_LINE = "M 75 75056 02 1"  # affecté, Moreau-Test


@pytest.fixture
def courts(session: Session, platform: Platform) -> None:
    """Paris' lines as in the demo (01 and 02 assigned with their files, 05 free, 06 in stock),
    La Réunion's free line 02, and a Paris parquet and an operator."""
    clock, cipher = platform.clock, platform.cipher
    paris = builders.juridiction(session, insee="75056", clock=clock)
    builders.assigned_file(session, juridiction=paris, order_no=1, cipher=cipher, clock=clock)
    builders.assigned_file(
        session,
        juridiction=paris,
        order_no=2,
        personal=PersonalData(last_name="Moreau-Test", first_name="Inès"),
        cipher=cipher,
        clock=clock,
    )
    for order_no, status in ((5, LineStatus.EN_ATTENTE), (6, LineStatus.EN_STOCK)):
        builders.line(session, juridiction=paris, order_no=order_no, status=status, clock=clock)
    builders.line(
        session,
        juridiction=builders.juridiction(session, insee="97411", clock=clock),
        order_no=2,
        msisdn="+262692340002",
        status=LineStatus.EN_ATTENTE,
        clock=clock,
    )
    builders.users_of(
        session,
        builders.PARQUET_AND_OPERATOR,
        cipher=cipher,
        hasher=platform.hasher,
        clock=clock,
    )


def _attribution(reference: str = FREE_LINE) -> Attribution:
    return Attribution(reference, PERSON, None)


def _test_call(session: Session, file: BeneficiaryFile, platform: Platform) -> Alert:
    record = session.get(LineAssignment, file.assignment_id)
    assert record is not None
    alert = Alert(
        call_sid="CA-test-" + file.number,
        line_id=record.line_id,
        assignment_id=record.id,
        file_id=file.id,
        reference=record.reference,
        conference_name="cf-test-" + file.number,
        state=AlertState.RINGING,
        nature=AlertNature.ESSAI,
        is_test=True,
        ringing_at=platform.clock.now(),
    )
    session.add(alert)
    session.flush()
    return alert


def test_whole_life_of_a_file(session: Session, platform: Platform, courts: None) -> None:
    clock, cipher = platform.clock, platform.cipher
    parquet, operator = user(session, "parquet.paris"), user(session, "operateur")
    # reception starts the 15-minute clock.
    navette = navettes.submit(session, _attribution(), user=parquet, cipher=cipher, clock=clock)
    assert navette.state is NavetteState.RECUE
    assert navette.deadline_at == navette.received_at + timedelta(minutes=15)
    assert [i.navette.id for i in navettes.queue(session, clock=clock)] == [navette.id]
    clock.advance(minutes=6)  # type: ignore[attr-defined]
    file = navettes.create_file(
        session,
        navette,
        personal=PERSON,
        association_id=None,
        user=operator,
        cipher=cipher,
        clock=clock,
    )
    assert navette.state is NavetteState.TRAITEE and not navette.is_breach
    record = session.get(LineAssignment, file.assignment_id)
    assert record is not None and record.status is LineStatus.MISE_EN_SERVICE
    assert file.state is FileState.EN_CREATION
    # two steps by the operator, the third from the person's real test call.
    commissioning.record_step(
        session, file, CommissioningStep.TEST_TERMINAL, succeeded=True, user=operator, clock=clock
    )
    commissioning.record_step(
        session,
        file,
        CommissioningStep.CHECK_ASSIGNMENT,
        succeeded=True,
        user=operator,
        clock=clock,
    )
    assert file.state is FileState.EN_CREATION
    with pytest.raises(Conflict):
        commissioning.record_step(
            session,
            file,
            CommissioningStep.TEST_CALL_BY_PERSON,
            succeeded=True,
            user=operator,
            clock=clock,
        )
    alert = _test_call(session, file, platform)
    assert commissioning.record_test_call(session, alert, clock=clock)
    assert file.state is FileState.ATTRIBUE and record.status is LineStatus.AFFECTE
    # an update is applied at once and versioned.
    navettes.submit(
        session,
        Update(FREE_LINE, {"workplace_hours": "lun–ven 8h–16h"}),
        user=parquet,
        cipher=cipher,
        clock=clock,
    )
    assert files.read_personal(session, file, cipher=cipher).workplace_hours == "lun–ven 8h–16h"
    assert files.current_version(session, file).changed_fields == ["workplace_hours"]
    # temporary information is kept apart, the file unchanged.
    navettes.submit(
        session,
        TemporaryInformation(
            FREE_LINE, date(2026, 12, 19), date(2026, 12, 27), "Chez sa sœur à Lyon"
        ),
        user=parquet,
        cipher=cipher,
        clock=clock,
    )
    assert session.scalar(select(TemporaryInfo).where(TemporaryInfo.file_id == file.id))
    # information to the parquet.
    navettes.send_to_parquet(
        session,
        file,
        text="Changement d'emploi signalé.",
        user=operator,
        cipher=cipher,
        clock=clock,
    )
    # termination opens a confirmation task.
    navettes.submit(
        session,
        Termination(FREE_LINE, "martin-canari", date(2026, 11, 23)),  # today: ends at confirmation
        user=parquet,
        cipher=cipher,
        clock=clock,
    )
    assert file.state is FileState.RESILIATION_DEMANDEE
    task = termination.task_for(session, file)
    assert task is not None
    # Not confirmed: nothing closes.
    assert (
        termination.confirm(
            session,
            task,
            measure_ended=True,
            terminal_recovered=False,
            user=operator,
            settings=platform.settings.retention,
            cipher=cipher,
            clock=clock,
        )
        is None
    )
    assert file.state is FileState.RESILIATION_DEMANDEE
    closure = termination.confirm(
        session,
        task,
        measure_ended=True,
        terminal_recovered=True,
        user=operator,
        settings=platform.settings.retention,
        cipher=cipher,
        clock=clock,
    )
    assert closure is not None
    assert file.state is FileState.CLOTURE and file.closed_at == clock.now()
    # R-16: 4 months on Paris' calendar (23 Nov 10:36 CET -> 23 Mar 10:36 CET).
    assert file.destruction_due_at is not None
    assert file.destruction_due_at.date() == date(2027, 3, 23)
    # The services audit each business action once, as the operator or the parquet.
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    trail = [(e.action, e.actor) for e in entries]
    assert trail.count(("navette.submit", f"user:{parquet.id}")) == 4
    assert trail.count(("file.create", f"user:{operator.id}")) == 1
    assert trail.count(("file.commissioning", f"user:{operator.id}")) == 2
    assert trail.count(("parquet_message.send", f"user:{operator.id}")) == 1
    confirmations = [e.details for e in entries if e.action == "file.termination_confirm"]
    assert confirmations == [{"closed": False}, {"closed": True}]
    steps = session.scalars(select(TaskStep).where(TaskStep.task_id == task.id)).all()
    assert {(s.step, s.outcome, s.user_id) for s in steps} >= {
        ("magistrate_call", "confirmed", operator.id),
        ("terminal_recovered", "yes", operator.id),
    }
    assert session.get(Task, task.id).status == "done"  # type: ignore[union-attr]
    # the line's record is closed; Y+1 waits 7 days.
    assert record.status is LineStatus.CLOTURE and not record.is_current
    following = closure.next_record
    assert following.reference == "M 75 75056 05 2"
    assert following.status is LineStatus.EN_ATTENTE
    assert following.available_from == clock.now() + timedelta(days=7)
    with pytest.raises(FieldErrors) as refused:
        navettes.submit(
            session, _attribution("M 75 75056 05 2"), user=parquet, cipher=cipher, clock=clock
        )
    assert "quarantaine" in refused.value.message
    clock.advance(days=7)  # type: ignore[attr-defined]
    again = navettes.submit(
        session, _attribution("M 75 75056 05 2"), user=parquet, cipher=cipher, clock=clock
    )
    assert again.state is NavetteState.RECUE
    # The exports: opened and read back.
    by_format = {e.format: exports.read_export(session, e, cipher=cipher) for e in closure.exports}
    odt = load_odt(io.BytesIO(by_format["odt"]))
    odt_text = "\n".join(
        teletype.extractText(e) for e in odt.getElementsByType(H) + odt.getElementsByType(P)
    )
    pdf_text = "\n".join(
        page.extract_text() for page in PdfReader(io.BytesIO(by_format["pdf"])).pages
    )
    for raw in (odt_text, pdf_text):
        text = " ".join(raw.split())  # table cells wrap lines in the PDF
        assert file.number in text
        assert "Martin-Canari" in text
        assert "Historique des versions" in text
        assert "Chez sa sœur à Lyon" in text
        assert "Changement d'emploi signalé." in text
        assert "Appel au magistrat" in text


def test_breach_recorded_when_file_created_late(
    session: Session, platform: Platform, courts: None
) -> None:
    parquet, operator = user(session, "parquet.paris"), user(session, "operateur")
    navette = navettes.submit(
        session, _attribution(), user=parquet, cipher=platform.cipher, clock=platform.clock
    )
    platform.clock.advance(minutes=16)  # type: ignore[attr-defined]
    assert navettes.queue(session, clock=platform.clock)[0].seconds_left == -60
    navettes.create_file(
        session,
        navette,
        personal=PERSON,
        association_id=None,
        user=operator,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    assert navette.is_breach


@pytest.mark.parametrize(
    ("content", "field", "words"),
    [
        (Attribution("M 75 75056 09 1", PERSON), "reference", "Aucune ligne"),
        (Attribution(REUNION_FREE_LINE, PERSON), "reference", "Aucune ligne"),  # another court
        (Attribution(ASSIGNED_LINE, PERSON), "reference", "déjà affectée"),
        (Attribution("M 75 75056 06 1", PERSON), "reference", "en stock"),
        (Attribution("X 75 75056 05 1", PERSON), "reference", "préfixe"),
        (Attribution(FREE_LINE, PersonalData("", "")), "last_name", "obligatoire"),
        (
            TemporaryInformation(ASSIGNED_LINE, date(2026, 11, 1), date(2026, 11, 30), "x"),
            "start",
            "passé",
        ),
        (
            TemporaryInformation(ASSIGNED_LINE, date(2026, 12, 5), date(2026, 12, 1), "x"),
            "end",
            "suivre",
        ),
        (Termination(FREE_LINE, "X", date(2026, 11, 30)), "reference", "Aucune fiche attribuée"),
        (
            Termination(ASSIGNED_LINE, "Inconnu", date(2026, 11, 30)),
            "last_name",
            "ne correspond pas",
        ),
        (Update(ASSIGNED_LINE, {}), "remarks", "aucun changement"),
    ],
)
def test_bad_navettes_refused_with_field_messages_and_nothing_written(
    session: Session, platform: Platform, courts: None, content: object, field: str, words: str
) -> None:
    before = session.scalar(select(Navette.id).order_by(Navette.id.desc()).limit(1))
    with pytest.raises(FieldErrors) as refused:
        navettes.submit(
            session,
            content,
            user=user(session, "parquet.paris"),  # type: ignore[arg-type]
            cipher=platform.cipher,
            clock=platform.clock,
        )
    assert field in refused.value.errors
    assert words in refused.value.errors[field][0][0] % refused.value.errors[field][0][1]
    assert session.scalar(select(Navette.id).order_by(Navette.id.desc()).limit(1)) == before


def test_second_attribution_of_the_same_line_refused(
    session: Session, platform: Platform, courts: None
) -> None:
    parquet = user(session, "parquet.paris")
    navettes.submit(
        session, _attribution(), user=parquet, cipher=platform.cipher, clock=platform.clock
    )
    with pytest.raises(FieldErrors, match="déjà en cours"):
        navettes.submit(
            session, _attribution(), user=parquet, cipher=platform.cipher, clock=platform.clock
        )


def test_drafts_are_kept_unvalidated_then_submitted(
    session: Session, platform: Platform, courts: None
) -> None:
    parquet = user(session, "parquet.paris")
    draft = navettes.save_draft(
        session,
        Attribution("", PersonalData("Martin-Canari", "")),
        user=parquet,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    assert draft.state is NavetteState.BROUILLON and draft.received_at is None
    assert draft not in [i.navette for i in navettes.queue(session, clock=platform.clock)]
    sent = navettes.submit(
        session,
        _attribution(),
        user=parquet,
        draft=draft,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    assert sent.id == draft.id and sent.received_at == platform.clock.now()


@pytest.mark.parametrize(
    ("named", "closes_at"),
    [
        # A later day: the measure ends at 00:00 that day, Paris time (CET, UTC+1).
        (date(2026, 12, 15), "2026-12-14T23:00:00+00:00"),
        # An earlier day (or today): the closure is the confirmation itself.
        (date(2026, 11, 2), None),
    ],
)
def test_closure_counts_from_the_later_of_confirmation_and_termination_date(
    session: Session, platform: Platform, courts: None, named: date, closes_at: str | None
) -> None:
    """CCP II.2.4: quarantine and destruction are never shortened by an early confirmation."""
    from datetime import datetime

    from tgd.domain.retention import destruction_due_at

    clock, cipher = platform.clock, platform.cipher
    navettes.submit(
        session,
        Termination(SECOND_ASSIGNED_LINE, "Moreau-Test", named),
        user=user(session, "parquet.paris"),
        cipher=cipher,
        clock=clock,
    )
    record = session.scalar(
        select(LineAssignment).where(LineAssignment.reference == SECOND_ASSIGNED_LINE)
    )
    assert record is not None
    file = navettes.file_of(session, record)
    assert file is not None and file.termination_date == named
    task = termination.task_for(session, file)
    assert task is not None
    closure = termination.confirm(
        session,
        task,
        measure_ended=True,
        terminal_recovered=True,
        user=user(session, "operateur"),
        settings=platform.settings.retention,
        cipher=cipher,
        clock=clock,
    )
    assert closure is not None
    expected = datetime.fromisoformat(closes_at) if closes_at else clock.now()
    assert file.closed_at == expected
    assert file.destruction_due_at == destruction_due_at(expected, "Europe/Paris", 4)
    assert closure.next_record.available_from == expected + timedelta(days=7)
    if closes_at:
        assert file.destruction_due_at.date() == date(2027, 4, 14)  # 15 April 00:00 CEST
        # The export sent to the parquet says it too.
        pdf = next(e for e in closure.exports if e.format == "pdf")
        text = " ".join(
            page.extract_text()
            for page in PdfReader(
                io.BytesIO(exports.read_export(session, pdf, cipher=cipher))
            ).pages
        )
        assert "15/12/2026" in " ".join(text.split())
