"""TwiML answers, built with ``twilio.twiml`` only (never by string concatenation).

No ``<Say>``, no ``<Play>``, no beep, no hold music: nothing may be heard that
could betray the caller to someone standing next to her.
"""

from __future__ import annotations

import functools
import secrets
from xml.sax.saxutils import escape

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, VoiceResponse

from tgd.services.alerts import CallRoute
from tgd.services.dispatch import Callbacks
from tgd.services.restrictions import SmsRoute

CONFERENCE_EVENTS = "start end join leave"
DIAL_TIMEOUT_S = 60


def render(route: CallRoute, callbacks: Callbacks) -> str:
    """Render where a call goes: into its bridge (R-24) or on to a number."""
    if route.conference:
        before, after = _bridge_around_its_name(route.end_conference_on_exit, callbacks)
        return before + escape(route.conference) + after
    response = VoiceResponse()
    if route.dial:
        response.append(_dial_number(route.dial, caller_id=route.caller_id))
    return str(response)


def _bridge(conference: str, end_conference_on_exit: bool, callbacks: Callbacks) -> str:
    response = VoiceResponse()
    dial = Dial(timeout=DIAL_TIMEOUT_S)
    dial.conference(
        conference,
        start_conference_on_enter=True,
        end_conference_on_exit=end_conference_on_exit,  # R-24b: caller's leg only
        beep=False,
        wait_url="",
        status_callback=callbacks.conference_status,
        status_callback_event=CONFERENCE_EVENTS,
        status_callback_method="POST",
    )
    response.append(dial)
    return str(response)


# A mark no URL of the settings holds: where the bridge's name goes in the library's answer.
_NAME_MARK = "tgd-name-" + secrets.token_hex(16)


@functools.lru_cache(maxsize=16)  # shapes: two per public base URL
def _bridge_around_its_name(end_conference_on_exit: bool, callbacks: Callbacks) -> tuple[str, str]:
    # A bridge's answer as the library builds it, once per shape, split where the name
    # goes: every call's answer is that text with its name, escaped as ElementTree escapes
    # an element's text (&, <, >). An ElementTree serialisation per call took 35-50 us of
    # the gateway writer's thread, inside the write (the answer is the receipt's).
    before, mark, after = _bridge(_NAME_MARK, end_conference_on_exit, callbacks).partition(
        _NAME_MARK
    )
    if not mark or _NAME_MARK in after:  # never: the mark is the name, and only there
        raise RuntimeError("twiml: the bridge's name is not where it was put")
    return before, after


def fallback(number: str | None, conference: str, callbacks: Callbacks) -> str:
    """E-01: when the alert could not be recorded, still bridge the caller somewhere."""
    if number:
        response = VoiceResponse()
        response.append(_dial_number(number))
        return str(response)
    return render(CallRoute(conference=conference), callbacks)


def _dial_number(number: str, *, caller_id: str | None = None) -> Dial:
    dial = Dial(timeout=DIAL_TIMEOUT_S, **({"caller_id": caller_id} if caller_id else {}))
    dial.number(number)
    return dial


def empty_messaging() -> str:
    """An empty messaging answer: we never reply to a terminal's SMS (discretion)."""
    return _EMPTY_MESSAGING


def relay_message(route: SmsRoute, body: str) -> str:
    """Put a terminal's SMS through to an allowed number (Annexe 2 I.1), or answer nothing."""
    response = MessagingResponse()
    if route.relay_to:
        if route.sender:
            response.message(body, to=route.relay_to, from_=route.sender)
        else:
            response.message(body, to=route.relay_to)
    return str(response)


def empty_voice() -> str:
    """An empty voice answer, for status callbacks."""
    return _EMPTY_VOICE


# Built once by the library: the same bytes on every callback, instead of an ElementTree
# serialisation of an empty document on each of them.
_EMPTY_VOICE = str(VoiceResponse())
_EMPTY_MESSAGING = str(MessagingResponse())
