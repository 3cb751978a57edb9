"""A fake Twilio for development and tests (issue 4): the REST API side and the carrier side.

- ``FakeTwilio`` (``api.py``) is a small Flask app that speaks Twilio's REST wire
  format for the endpoints we use (calls, conference participants, messages):
  form-encoded requests with Basic auth, JSON answers shaped like Twilio's,
  status 201 on creation. It records every request it received.
- ``WsgiHttpClient`` lets the real ``twilio`` client talk to it in-process
  (no socket: the embedded demo works without any network);
  ``FakeTwilioServer`` serves it on loopback for tests and ``tgd simulate twilio``.
- ``carrier.py`` plays the carrier towards the platform: correctly signed
  webhooks for calls, hang-ups, conference events and SMS.
"""

from tgd.adapters.fake_twilio.api import (
    CallProgress,
    FakeCall,
    FakeTwilio,
    FakeTwilioServer,
    RecordedRequest,
    WsgiHttpClient,
)

__all__ = [
    "CallProgress",
    "FakeCall",
    "FakeTwilio",
    "FakeTwilioServer",
    "RecordedRequest",
    "WsgiHttpClient",
]
