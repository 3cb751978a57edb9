"""Annexe 2 I.1 through signed webhooks: a restricted line reaches only its allow-list.

With ``[restrictions] gateway_outbound`` the carrier routes the terminals' calls and SMS to
other numbers through the voice and SMS webhooks; the gateway puts through what the line's
allow-list permits and records the rest as non-compliant use.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tgd.container import Platform
from tgd.db.models.alerts import Alert, WebhookReceipt
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.positions import Position
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, AlertState
from tgd.domain.restrictions import Channel
from tgd.services import restrictions, vault
from tgd.settings import Settings

from .conftest import ALERT_NUMBER, LINE_1, LINE_5, TEST_NUMBER, TwilioClient

pytestmark = pytest.mark.usefixtures("demo")
FRIEND = "+33611223344"  # on line 1's list, voice and SMS
LAWYER = "+33145678900"  # on line 1's list, voice only
STRANGER = "+33699887766"  # on no list
EXTRA_CENTRE = "+33199000005"  # a centre number from [restrictions] centre_numbers
AML = (
    'A"ML=1;lt=+48.85890;lg=+2.38000;rd=14;top=20261123092900;lc=68;pm=G;'
    "si=208150000000001;ei=350000000000001;mcc=208;mnc=15;ml=126"
)
CONFERENCE = re.compile(r"<Conference[^>]*>(tgd-[0-9a-f]{24})</Conference>")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The gateway enforces the allow-lists (the carrier routes third-party calls to us)."""
    return dataclasses.replace(
        settings,
        restrictions=dataclasses.replace(
            settings.restrictions, gateway_outbound=True, centre_numbers=(EXTRA_CENTRE,)
        ),
    )


def _line(session: Session, msisdn: str) -> Line:
    line = session.scalar(select(Line).where(Line.msisdn == msisdn))
    assert line is not None
    return line


@pytest.fixture
def restricted(demo: None, platform: Platform) -> None:
    """Line 1 restricted at the parquet's request: FRIEND (voice, SMS), LAWYER (voice)."""
    with write_transaction(platform.sessions) as session:
        restrictions.set_restriction(
            session,
            _line(session, LINE_1),
            voice=["06 11 22 33 44", "01 45 67 89 00"],
            sms=["+33 6 11 22 33 44"],
            request_ref="courrier 2026/118",
            requested_on=date(2026, 11, 20),
            user_id=None,
            cipher=platform.cipher,
            clock=platform.clock,
        )


def _sms(twilio: TwilioClient, sid: str, to: str, *, from_: str = LINE_1, body: str = "coucou"):  # type: ignore[no-untyped-def]
    return twilio.post(
        "/gateway/twilio/sms", {"MessageSid": sid, "From": from_, "To": to, "Body": body}
    )


def _alerts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Alert)) or 0


@pytest.mark.usefixtures("restricted")
def test_call_to_an_allowed_number_is_put_through_with_the_line_as_caller_id(
    twilio: TwilioClient, session: Session
) -> None:
    body = twilio.call("CAok01", to=FRIEND).get_data(as_text=True)
    assert f'callerId="{LINE_1}"' in body
    assert f"<Number>{FRIEND}</Number>" in body
    assert "<Conference" not in body
    assert _alerts(session) == 0  # a compliant call is no alert
    # Its answer is not the bridge drawn before routing it: the receipt keeps the real one.
    assert twilio.call("CAok01", to=FRIEND).get_data(as_text=True) == body


@pytest.mark.usefixtures("restricted")
def test_voice_only_number_is_refused_by_sms_but_allowed_by_voice(
    twilio: TwilioClient, session: Session
) -> None:
    assert f"<Number>{LAWYER}</Number>" in twilio.call("CAok02", to=LAWYER).get_data(as_text=True)
    answer = _sms(twilio, "SMlawyer", LAWYER).get_data(as_text=True)
    assert "<Message" not in answer
    alert = session.scalar(select(Alert).where(Alert.call_sid == "SMlawyer"))
    assert alert is not None and alert.restricted_channel is Channel.SMS


@pytest.mark.usefixtures("restricted")
def test_call_outside_the_list_is_non_compliant_use_answered_by_the_centre(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    body = twilio.call("CAno01", to=STRANGER).get_data(as_text=True)
    assert STRANGER not in body and "<Number>" not in body  # never put through
    name = CONFERENCE.search(body)
    assert name is not None  # the person reaches the centre's bridge, silently
    assert "<Say" not in body and "<Play" not in body
    alert = session.scalar(select(Alert).where(Alert.call_sid == "CAno01"))
    assert alert is not None and alert.conference_name == name.group(1)
    assert alert.state is AlertState.RINGING  # an operator answers: she may be in danger
    assert alert.nature is AlertNature.NON_CONFORME
    assert alert.restricted_channel is Channel.VOICE
    assert alert.non_compliance_cause and "hors de la liste autorisée" in alert.non_compliance_cause
    assert (
        alert.dialled_number_enc is not None and STRANGER.encode() not in alert.dialled_number_enc
    )
    dialled = vault.get_text(
        session, platform.cipher, alert, "dialled_number_enc", key_id=alert.data_key_id
    )
    assert dialled == STRANGER


@pytest.mark.usefixtures("restricted")
def test_refused_call_delivered_twice_records_one_alert(
    twilio: TwilioClient, session: Session
) -> None:
    first = twilio.call("CAno02", to=STRANGER).get_data(as_text=True)
    again = twilio.call("CAno02", to=STRANGER).get_data(as_text=True)
    assert first == again
    assert _alerts(session) == 1


@pytest.mark.usefixtures("restricted")
@pytest.mark.parametrize("to", [ALERT_NUMBER, TEST_NUMBER, EXTRA_CENTRE])
def test_calls_to_the_centre_numbers_stay_alerts_on_a_restricted_line(
    twilio: TwilioClient, session: Session, to: str
) -> None:
    body = twilio.call("CAcentre", to=to).get_data(as_text=True)
    assert CONFERENCE.search(body) is not None
    alert = session.scalar(select(Alert).where(Alert.call_sid == "CAcentre"))
    assert alert is not None and alert.restricted_channel is None
    assert alert.nature is not AlertNature.NON_CONFORME


def test_line_without_a_restriction_calls_anyone(twilio: TwilioClient, session: Session) -> None:
    body = twilio.call("CAfree", to=STRANGER).get_data(as_text=True)
    assert f"<Number>{STRANGER}</Number>" in body and f'callerId="{LINE_1}"' in body
    assert _alerts(session) == 0


def test_unknown_caller_dialling_a_third_party_is_still_an_alert(
    twilio: TwilioClient, session: Session
) -> None:
    body = twilio.call("CAunknown", from_="+33655500000", to=STRANGER).get_data(as_text=True)
    assert CONFERENCE.search(body) is not None  # never dropped, never put through
    assert STRANGER not in body
    alert = session.scalar(select(Alert).where(Alert.call_sid == "CAunknown"))
    assert alert is not None and alert.line_id is None and alert.restricted_channel is None


@pytest.mark.usefixtures("restricted")
def test_restriction_of_a_previous_assignment_does_not_bind_the_next_person(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    with write_transaction(platform.sessions) as writer:
        line = _line(writer, LINE_1)
        current = writer.scalar(
            select(LineAssignment).where(
                LineAssignment.line_id == line.id, LineAssignment.is_current.is_(True)
            )
        )
        assert current is not None
        version = restrictions.current_restriction(writer, line)
        assert version is not None
        version.assignment_id = None  # as if set for an earlier beneficiary (Y-1)
    body = twilio.call("CAnext", to=STRANGER).get_data(as_text=True)
    assert f"<Number>{STRANGER}</Number>" in body


@pytest.mark.usefixtures("restricted")
def test_lifting_the_restriction_lets_the_line_call_anyone_again(
    twilio: TwilioClient, platform: Platform
) -> None:
    with write_transaction(platform.sessions) as writer:
        restrictions.lift_restriction(
            writer,
            _line(writer, LINE_1),
            request_ref="courrier 2026/131",
            requested_on=date(2026, 11, 22),
            user_id=None,
            clock=platform.clock,
        )
    assert f"<Number>{STRANGER}</Number>" in twilio.call("CAlift", to=STRANGER).get_data(
        as_text=True
    )


@pytest.mark.usefixtures("restricted")
def test_sms_to_an_allowed_number_is_relayed_once(twilio: TwilioClient, session: Session) -> None:
    first = _sms(twilio, "SMok01", FRIEND, body="je suis en route").get_data(as_text=True)
    assert f'to="{FRIEND}"' in first and f'from="{LINE_1}"' in first
    assert ">je suis en route</Message>" in first
    again = _sms(twilio, "SMok01", FRIEND, body="je suis en route").get_data(as_text=True)
    assert "<Message" not in again  # E-03: a repeated delivery is not sent twice
    receipt = session.scalar(select(WebhookReceipt).where(WebhookReceipt.key == "sms-relay:SMok01"))
    assert receipt is not None and "route" not in receipt.response_body  # no text kept
    assert _alerts(session) == 0


@pytest.mark.usefixtures("restricted")
def test_sms_outside_the_list_is_not_delivered_and_recorded_closed(
    twilio: TwilioClient, session: Session
) -> None:
    response = _sms(twilio, "SMno01", STRANGER, body="ouvre-moi")
    assert response.status_code == 200 and "<Message" not in response.get_data(as_text=True)
    _sms(twilio, "SMno01", STRANGER, body="ouvre-moi")  # repeated delivery
    found = list(session.scalars(select(Alert).where(Alert.call_sid == "SMno01")))
    assert len(found) == 1
    alert = found[0]
    assert alert.nature is AlertNature.NON_CONFORME and alert.state is AlertState.CLOSED
    assert alert.restricted_channel is Channel.SMS
    assert session.scalar(select(func.count()).select_from(Position)) == 0


@pytest.mark.usefixtures("restricted")
def test_sms_to_the_centre_is_still_a_position(twilio: TwilioClient, session: Session) -> None:
    response = _sms(twilio, "SMpos", ALERT_NUMBER, body=AML)
    assert response.status_code == 200
    assert session.scalar(select(func.count()).select_from(Position)) == 1
    assert _alerts(session) == 0


def test_sms_from_an_unknown_number_to_a_third_party_is_not_relayed(
    twilio: TwilioClient,
) -> None:
    answer = _sms(twilio, "SMunk", STRANGER, from_="+33655500000").get_data(as_text=True)
    assert "<Message" not in answer


def test_line_waiting_for_assignment_without_list_is_unrestricted(twilio: TwilioClient) -> None:
    assert f"<Number>{STRANGER}</Number>" in twilio.call(
        "CAwait", from_=LINE_5, to=STRANGER
    ).get_data(as_text=True)


class TestOutboundRoutingOff:
    """Without gateway_outbound every terminal call is an alert, whatever it dialled (R-20)."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(
            settings,
            restrictions=dataclasses.replace(settings.restrictions, gateway_outbound=False),
        )

    @pytest.mark.usefixtures("restricted")
    def test_call_to_any_number_is_bridged_as_an_alert(
        self, twilio: TwilioClient, session: Session
    ) -> None:
        body = twilio.call("CAoff", to=STRANGER).get_data(as_text=True)
        assert CONFERENCE.search(body) is not None and "<Number>" not in body
        alert = session.scalar(select(Alert).where(Alert.call_sid == "CAoff"))
        assert alert is not None and alert.restricted_channel is None
