"""E-mail intake through a real local SMTP flow, and the parquet's notice without personal data."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from tests import builders
from tgd.adapters.mail import MemoryMailer, SmtpIntake, SmtpMailer
from tgd.container import Platform
from tgd.db.models.audit import AuditEntry
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.navettes import IntakeDocument
from tgd.db.models.territories import Juridiction
from tgd.db.writes import write_transaction
from tgd.domain.beneficiary import Address, PersonalData
from tgd.domain.lifecycle import LineStatus, NavetteSource, NavetteState
from tgd.domain.navettes import Attribution
from tgd.services import intake, navettes

from .conftest import FREE_LINE, user

PDF = b"%PDF-1.4\n% navette scannee (test)\n%%EOF\n"


@pytest.fixture
def paris_lines(platform: Platform) -> None:
    """Paris' free line 05, its line 01 assigned to Camille Lefebvre-Test, and an operator."""
    clock, cipher = platform.clock, platform.cipher
    with write_transaction(platform.sessions) as session:
        court = builders.juridiction(session, insee="75056", clock=clock)
        builders.line(
            session, juridiction=court, order_no=5, status=LineStatus.EN_ATTENTE, clock=clock
        )
        builders.assigned_file(
            session,
            juridiction=court,
            personal=PersonalData("Lefebvre-Test", "Camille"),
            cipher=cipher,
            clock=clock,
        )
        builders.user(session, cipher=cipher, hasher=platform.hasher, clock=clock)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mail(message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "parquet@tj-paris.example"
    message["To"] = "navettes@tgd.example"
    message["Subject"] = "Navette d'attribution"
    message["Message-ID"] = message_id
    message.set_content("Veuillez trouver la navette ci-jointe.")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="navette.pdf")
    return message


def test_email_navette_reaches_the_queue_through_smtp(
    platform: Platform, paris_lines: None
) -> None:
    def store(raw: bytes) -> int:
        with write_transaction(platform.sessions) as session:
            return len(
                intake.receive_email(
                    session,
                    raw,
                    actor="system:intake",
                    cipher=platform.cipher,
                    clock=platform.clock,
                )
            )

    server = SmtpIntake(store, host="127.0.0.1", port=_free_port())
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
            smtp.send_message(_mail("<n1@tj-paris.example>"))
            smtp.send_message(_mail("<n1@tj-paris.example>"))  # redelivered: stored once
    finally:
        server.stop()
    with write_transaction(platform.sessions) as session:
        docs = session.scalars(select(IntakeDocument)).all()
        assert len(docs) == 1
        doc = docs[0]
        assert doc.content_type == "application/pdf" and doc.received_at == platform.clock.now()
        assert PDF not in (doc.content_enc or b"")  # stored encrypted
        received = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "intake.received")
        ).all()  # the intake service audits the arrival, once for a redelivered mail
        assert [(e.actor, e.object_id) for e in received] == [("system:intake", str(doc.id))]
        assert intake.read_document(session, doc, cipher=platform.cipher) == PDF
        pending = intake.pending(session, clock=platform.clock)
        assert [p.document.id for p in pending] == [doc.id] and pending[0].seconds_left == 900
        platform.clock.advance(minutes=10)  # type: ignore[attr-defined]
        navette = intake.key_in(
            session,
            doc,
            Attribution(
                FREE_LINE,
                PersonalData("Martin-Canari", "Léa", residence=Address("5 rue", "75011", "Paris")),
            ),
            user=user(session, "operateur"),
            cipher=platform.cipher,
            clock=platform.clock,
        )
        # the clock started when the mail arrived, not when it was keyed in.
        assert navette.source is NavetteSource.EMAIL and navette.state is NavetteState.RECUE
        assert navette.received_at == doc.received_at
        assert navettes.queue(session, clock=platform.clock)[0].seconds_left == 300
        assert intake.pending(session, clock=platform.clock) == []
        # Keyed in, not submitted: the intake audits its own action, once.
        actions = session.scalars(select(AuditEntry.action)).all()
        assert actions.count("navette.key_in") == 1 and "navette.submit" not in actions


def test_receiver_refuses_to_listen_beyond_loopback() -> None:
    try:
        SmtpIntake(lambda raw: 0, host="0.0.0.0", port=2525)  # noqa: S104
    except ValueError:
        return
    raise AssertionError("listening on every address must be refused")


def test_parquet_notice_by_smtp_holds_no_personal_data(
    platform: Platform, paris_lines: None
) -> None:
    received: list[bytes] = []

    def store(raw: bytes) -> int:
        received.append(raw)
        return 1

    relay = SmtpIntake(store, host="127.0.0.1", port=_free_port())
    relay.start()
    try:
        with write_transaction(platform.sessions) as session:
            paris = session.scalar(select(Juridiction).where(Juridiction.insee == "75056"))
            assert paris is not None
            paris.parquet_email = "parquet.tgd@tj-paris.example"
            first = session.scalar(
                select(BeneficiaryFile).where(BeneficiaryFile.juridiction_id == paris.id).limit(1)
            )
            assert first is not None
            navettes.send_to_parquet(
                session,
                first,
                text="La personne a déménagé chez Mme Canari-Témoin.",
                user=user(session, "operateur"),
                cipher=platform.cipher,
                clock=platform.clock,
            )
            number = first.number
        sent = navettes.notify_parquets(
            platform.sessions,
            mailer=SmtpMailer("127.0.0.1", relay.port, "tgd@centre.example"),
            portal_url="http://tgd.test/parquet/",
            clock=platform.clock,
        )
        assert sent == 1
        again = navettes.notify_parquets(
            platform.sessions, mailer=MemoryMailer(), portal_url="x", clock=platform.clock
        )
        assert again == 0
    finally:
        relay.stop()
    assert len(received) == 1
    mail = received[0].decode()
    assert number in mail and "http://tgd.test/parquet/" in mail
    for personal in ("Canari", "Lefebvre", "Camille", "déménagé"):
        assert personal not in mail
