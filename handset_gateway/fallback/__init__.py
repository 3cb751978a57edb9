"""The static fallback TwiML (E-05): dials the backup centre when the platform is down.

``fallback.xml`` is served from other hosting than the platform and set as the
Twilio number's Fallback URL. ``python -m handset_gateway.fallback NUMBER``
prints the file for a given backup number (built with ``twilio.twiml``).
"""

from __future__ import annotations

from pathlib import Path

from twilio.twiml.voice_response import Dial, VoiceResponse

from tgd.services.alerts import normalise_number

STATIC_FILE = Path(__file__).with_name("fallback.xml")


def build(number: str) -> str:
    """Return the fallback TwiML that dials ``number`` (E.164), nothing else."""
    e164 = normalise_number(number)
    if e164 is None:
        raise ValueError("the backup centre number is not a valid phone number")
    dial = Dial(timeout=60)
    dial.number(e164)
    response = VoiceResponse()
    response.append(dial)
    return str(response)
