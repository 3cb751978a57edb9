"""The ``Telephony`` port on Twilio's REST API, through the official ``twilio`` client.

``build_telephony(settings)`` chooses the target from configuration (STYLE
rule 4): Twilio itself (``backend = "twilio"``), or the fake Twilio
(``backend = "fake"``): over HTTP when ``api_base_url`` names a running fake
(tests, ``tgd simulate twilio``), else in-process through ``WsgiHttpClient``,
so the embedded demo needs no network. Either way the real client code builds
and sends the requests. Errors become ``TelephonyError`` naming no number.
"""

from __future__ import annotations

import logging

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from tgd.adapters.carrier_http import CarrierHttpClient
from tgd.adapters.fake_twilio.api import CallProgress, FakeTwilio, WsgiHttpClient
from tgd.ports import TelephonyError
from tgd.settings import Settings

log = logging.getLogger(__name__)
FAKE_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_API = "https://api.twilio.com"
# A dialled leg's callbacks. Not "initiated": the leg is "queued" as soon as the carrier
# takes the request, and the console shows both the same way ("appel lancé"), so that
# callback would be a write and a console event telling nobody anything, on every leg.
CALL_EVENTS = ["ringing", "answered", "completed"]
CONFERENCE_EVENTS = ["start", "end", "join", "leave"]


class TwilioTelephony:
    """Conference legs and SMS through Twilio's REST API (R-24, R-28)."""

    def __init__(self, client: Client, *, fake: FakeTwilio | None = None) -> None:
        self.client = client
        self.fake = fake  # the in-process fake, when there is one (demo, tests)

    def add_participant(
        self,
        conference: str,
        *,
        to: str,
        from_: str,
        end_conference_on_exit: bool,
        status_callback: str,
        conference_status_callback: str,
        label: str | None = None,
    ) -> str:
        """Dial ``to`` into the conference, with no beep and no hold music (discretion)."""
        extra = {"label": label} if label else {}
        try:
            participant = self.client.conferences(conference).participants.create(
                from_=from_,
                to=to,
                **extra,
                beep="false",
                start_conference_on_enter=True,
                end_conference_on_exit=end_conference_on_exit,
                wait_url="",
                early_media=False,
                status_callback=status_callback,
                status_callback_event=CALL_EVENTS,
                conference_status_callback=conference_status_callback,
                conference_status_callback_event=CONFERENCE_EVENTS,
            )
        except TwilioException as exc:
            raise _error(exc) from None
        if not participant.call_sid:
            raise TelephonyError("carrier answered without a call id", code="refused:201:0")
        return str(participant.call_sid)

    def remove_participant(self, conference_sid: str, call_sid: str) -> None:
        """Take one leg out of the conference (the others stay)."""
        try:
            self.client.conferences(conference_sid).participants(call_sid).delete()
        except TwilioException as exc:
            raise _error(exc) from None

    def hang_up(self, call_sid: str) -> None:
        """End one call."""
        try:
            self.client.calls(call_sid).update(status="completed")
        except TwilioException as exc:
            raise _error(exc) from None

    def send_sms(self, *, to: str, from_: str, body: str) -> str:
        """Send an SMS and return its message id."""
        try:
            message = self.client.messages.create(to=to, from_=from_, body=body)
        except TwilioException as exc:
            raise _error(exc) from None
        return str(message.sid or "")


def _error(exc: Exception) -> TelephonyError:
    if isinstance(exc, TwilioRestException):
        return TelephonyError(_describe(exc), code=f"refused:{exc.status}:{exc.code or 0}")
    return TelephonyError(_describe(exc), code="unreachable")


def _describe(exc: Exception) -> str:
    # Twilio's messages may quote the numbers involved: keep the status and code only.
    if isinstance(exc, TwilioRestException):
        return f"carrier error HTTP {exc.status} code {exc.code}"
    return f"carrier unreachable ({type(exc).__name__})"


def build_telephony(settings: Settings) -> TwilioTelephony:
    """Build the telephony adapter the configuration asks for."""
    twilio = settings.twilio
    account_sid = twilio.account_sid or FAKE_ACCOUNT_SID
    fake = None
    if twilio.backend == "fake" and not twilio.api_base_url:
        fake = FakeTwilio(auth_token=twilio.auth_token or "fake")
        fake.unreachable.update(twilio.fake_unreachable)
        if twilio.fake_call_progress:
            CallProgress(fake).start()  # the fake plays its calls: callbacks to our public URL
        client = Client(account_sid, twilio.auth_token or "fake", http_client=WsgiHttpClient(fake))
    else:
        api = (twilio.api_base_url or TWILIO_API).rstrip("/")
        http = CarrierHttpClient(api, timeout=twilio.api_timeout_seconds)
        client = Client(account_sid, twilio.auth_token, http_client=http)
    if twilio.api_base_url:
        client.api.base_url = twilio.api_base_url.rstrip("/")
    return TwilioTelephony(client, fake=fake)
