"""SMS that are not positions (R-22 for texts): answered 200, kept encrypted for the operators.

A person in danger may text from another phone: the carrier must not see an
error (it would log it and call its fallback), the operators must see the
text in the console, and nothing personal may reach the logs or the events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tgd.container import Platform
from tgd.db.models.audit import AuditEntry
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.messages import InboundSms
from tgd.db.models.operations import ConsoleEvent
from tgd.db.models.positions import Position
from tgd.db.writes import write_transaction

from .conftest import LINE_1, TwilioClient

pytestmark = pytest.mark.usefixtures("demo")
Login = Callable[[str], FlaskClient]
STRANGER = "+33699999998"
TEXT = "aidez-moi je suis chez ma soeur rue des Lilas"


def _sms(twilio: TwilioClient, body: str, *, sid: str = "SMtext1", from_: str = STRANGER) -> object:
    return twilio.post(
        "/gateway/twilio/sms",
        {"MessageSid": sid, "From": from_, "To": "+33199000000", "Body": body},
    )


def test_sms_from_an_unknown_number_is_answered_200_and_kept_encrypted(
    twilio: TwilioClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = _sms(twilio, TEXT)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert response.get_data(as_text=True).strip().endswith("<Response />")  # type: ignore[attr-defined]
    message = session.scalars(select(InboundSms)).one()
    assert message.line_id is None and message.file_id is None and message.read_at is None
    assert message.data_key_id is not None and message.sender_enc is not None
    assert b"aidez" not in message.body_enc and STRANGER.encode() not in message.sender_enc
    event = session.scalars(select(ConsoleEvent).where(ConsoleEvent.kind == "sms_received")).one()
    assert event.payload == {"sms_id": message.id, "line_id": None, "identified": False}
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "sms.received")).one()
    assert STRANGER not in json.dumps(audit.details) and "aidez" not in json.dumps(audit.details)
    assert (
        STRANGER not in caplog.text and "aidez" not in caplog.text and "99999998" not in caplog.text
    )


def test_repeated_delivery_is_kept_once(twilio: TwilioClient, session: Session) -> None:
    assert _sms(twilio, TEXT).status_code == 200  # type: ignore[attr-defined]
    assert _sms(twilio, TEXT).status_code == 200  # type: ignore[attr-defined]
    assert session.scalar(select(func.count()).select_from(InboundSms)) == 1


def test_a_position_from_an_unknown_number_is_kept_as_a_message(
    twilio: TwilioClient, session: Session
) -> None:
    body = "POS 48.85890 2.38000 25 20261123093000 G"
    assert _sms(twilio, body).status_code == 200  # type: ignore[attr-defined]
    assert session.scalar(select(Position)) is None
    assert session.scalar(select(func.count()).select_from(InboundSms)) == 1


def test_free_text_from_a_terminal_is_kept_under_its_files_key(
    twilio: TwilioClient, session: Session
) -> None:
    assert _sms(twilio, "au secours", from_=LINE_1).status_code == 200  # type: ignore[attr-defined]
    message = session.scalars(select(InboundSms)).one()
    file = session.get(BeneficiaryFile, message.file_id)
    assert file is not None and message.data_key_id == file.data_key_id
    assert message.sender_enc is None  # the line is known: its number is no secret to keep
    assert session.scalars(select(ConsoleEvent.payload)).all()[-1]["identified"] is True


def test_operators_read_the_messages_in_the_console_and_mark_them_read(
    twilio: TwilioClient, login: Login, platform: Platform
) -> None:
    _sms(twilio, TEXT)
    _sms(twilio, "au secours", sid="SMtext2", from_=LINE_1)
    operator = login("operateur")
    page = operator.get("/console").get_data(as_text=True)
    assert 'id="sms-recus"' in page and "js/sms.js" in page
    listed = operator.get("/api/console/sms").get_json()["messages"]
    assert [(m["sender"], m["reference"], m["body"], m["read"]) for m in listed] == [
        (None, "M 75 75056 01 1", "au secours", False),
        (STRANGER, None, TEXT, False),
    ]
    page_token = operator.get("/console").get_data(as_text=True)
    token = page_token.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    read = operator.post(f"/api/console/sms/{listed[1]['id']}/lu", headers={"X-CSRFToken": token})
    assert read.status_code == 200
    again = operator.get("/api/console/sms").get_json()["messages"]
    assert [m["read"] for m in again] == [False, True]
    with platform.sessions() as s:
        actions = s.scalars(select(AuditEntry.action)).all()
        assert "sms.list" in actions and actions.count("sms.read") == 1  # the service's
        assert s.scalar(select(ConsoleEvent).where(ConsoleEvent.kind == "sms_read")) is not None


@pytest.mark.parametrize("role", ["parquet.paris", "association", "admin"])
def test_only_console_roles_read_the_messages(
    twilio: TwilioClient, login: Login, role: str
) -> None:
    _sms(twilio, TEXT)
    assert login(role).get("/api/console/sms").status_code == 403


def test_destroying_a_file_destroys_its_terminals_messages(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    from tgd.domain.lifecycle import FileState
    from tgd.services import destruction

    _sms(twilio, "au secours", from_=LINE_1)
    with write_transaction(platform.sessions) as s:
        message = s.scalars(select(InboundSms)).one()
        file = s.get(BeneficiaryFile, message.file_id)
        assert file is not None
        file.state = FileState.CLOTURE
        s.flush()
        destruction.destroy_file(
            s, file, cipher=platform.cipher, rule="R-16", actor="system:test", clock=platform.clock
        )
    with platform.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundSms)) == 0
