"""The carrier side of the fake Twilio: signed webhooks towards the platform, like Twilio sends.

Each webhook is form-encoded and signed with ``X-Twilio-Signature`` computed by
the ``twilio`` library over the platform's *public* URL (what Twilio would
call) and every parameter, then sent to wherever the platform actually
listens (``platform_url``). Used by ``tgd simulate``, ``tgd canary``, the
tests and the benchmark.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from twilio.request_validator import RequestValidator

from tgd.domain.positions import sign_terminal_body


class PlatformUnreachable(ConnectionError):
    """The platform did not answer at all (not started, wrong address, timeout)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    """The platform's answer to one webhook."""

    status: int
    body: str


def new_sid(prefix: str) -> str:
    """Return a fresh carrier id shaped like Twilio's (CA…, SM…, CF…)."""
    return prefix + secrets.token_hex(16)


class Carrier:
    """Sends the webhooks a carrier would send for terminals' calls and SMS."""

    def __init__(
        self,
        *,
        platform_url: str,
        public_base_url: str,
        auth_token: str,
        account_sid: str = "AC" + "0" * 32,
        timeout: float = 15.0,
    ) -> None:
        self.platform_url = platform_url.rstrip("/")
        self.public_base_url = public_base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.account_sid = account_sid
        self.timeout = timeout

    def post(self, path: str, params: dict[str, str], *, signed: bool = True) -> Answer:
        """POST a form-encoded webhook, signed as Twilio signs it."""
        request = urllib.request.Request(  # noqa: S310 - the platform's own URL, http(s) only
            self.platform_url + path, data=urllib.parse.urlencode(params).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if signed:
            signature = self.validator.compute_signature(self.public_base_url + path, params)
            request.add_header("X-Twilio-Signature", signature)
        return _send(request, self.timeout)

    def incoming_call(
        self, *, from_: str, to: str, call_sid: str | None = None
    ) -> tuple[str, Answer]:
        """A terminal calls the centre: the voice webhook."""
        sid = call_sid or new_sid("CA")
        params = {
            "CallSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        return sid, self.post("/gateway/twilio/voice", params)

    def call_status(self, call_sid: str, status: str, *, duration: int | None = None) -> Answer:
        """A call's status changed (completed: the caller hung up)."""
        params = {"CallSid": call_sid, "AccountSid": self.account_sid, "CallStatus": status}
        if duration is not None:
            params["CallDuration"] = str(duration)
        return self.post("/gateway/twilio/voice/status", params)

    def conference_event(
        self, *, conference_sid: str, name: str, event: str, call_sid: str | None = None
    ) -> Answer:
        """A conference event (conference-start, participant-join, conference-end…)."""
        params = {
            "ConferenceSid": conference_sid,
            "FriendlyName": name,
            "StatusCallbackEvent": event,
            "AccountSid": self.account_sid,
        }
        if call_sid:
            params["CallSid"] = call_sid
        return self.post("/gateway/twilio/conference/status", params)

    def sms(self, *, from_: str, to: str, body: str, message_sid: str | None = None) -> Answer:
        """A terminal sends an SMS (a position)."""
        params = {
            "MessageSid": message_sid or new_sid("SM"),
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
        }
        return self.post("/gateway/twilio/sms", params)


def post_signed_position(
    platform_url: str,
    *,
    key_id: str,
    secret: str,
    payload: dict[str, object],
    timestamp: int,
    nonce: str | None = None,
    timeout: float = 15.0,
) -> Answer:
    """A data-capable terminal posts its position over HTTPS, signed with its line secret."""
    body = json.dumps(payload).encode()
    nonce = nonce or secrets.token_urlsafe(18)
    request = urllib.request.Request(  # noqa: S310 - the platform's own URL
        platform_url.rstrip("/") + "/gateway/positions", data=body, method="POST"
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("X-TGD-Key", key_id)
    request.add_header("X-TGD-Timestamp", str(timestamp))
    request.add_header("X-TGD-Nonce", nonce)
    request.add_header("X-TGD-Signature", sign_terminal_body(secret, str(timestamp), nonce, body))
    return _send(request, timeout)


def _send(request: urllib.request.Request, timeout: float) -> Answer:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Answer(response.status, response.read().decode())
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, exc.read().decode(errors="replace"))
    except OSError as exc:  # refused, unreachable, timed out: no answer at all
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        base = urllib.parse.urlsplit(request.full_url)
        raise PlatformUnreachable(f"{base.scheme}://{base.netloc}", type(reason).__name__) from exc
