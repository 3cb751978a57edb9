"""Calls answered without the database are kept, then recorded once (R-21, E-03, E-05).

The voice webhook and the fallback process write the call to the spool before the
caller gets an answer; the replayer records it, in the bridge the caller was put
into, once the database takes writes; a second replay (or a call recorded live
before its process died) never makes a second alert.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from handset_gateway.fallback.server import FallbackServer
from handset_gateway.spool import Spool, SpooledCall
from handset_gateway.views import record_spooled
from tgd.container import Platform
from tgd.db.models.alerts import Alert
from tgd.settings import Settings

from .conftest import LINE_1, OVERFLOW_NUMBER, TOKEN, TwilioClient

pytestmark = pytest.mark.usefixtures("demo")
CONFERENCE = re.compile(r"<Conference[^>]*>([^<]+)</Conference>")


def _call(
    sid: str, conference: str | None = "tgd-" + "a" * 24, dial: str | None = None
) -> SpooledCall:
    return SpooledCall(
        call_sid=sid,
        from_number=LINE_1,
        to_number="+33199000000",
        conference=conference,
        dial=dial,
        received_at="2026-11-23T09:29:00+00:00",
        source="fallback",
    )


def test_a_spooled_call_is_recorded_once_in_the_bridge_the_caller_is_in(
    app: Flask, platform: Platform, session: Session
) -> None:
    spool: Spool = app.extensions["tgd.spool"]
    spool.append(_call("CAspool1"))
    assert spool.pending() == 1
    assert spool.replay(lambda call: record_spooled(platform, call)) == 1
    assert spool.pending() == 0 and not list(spool.directory.glob("*"))
    alert = session.scalar(select(Alert).where(Alert.call_sid == "CAspool1"))
    assert alert is not None
    assert alert.conference_name == "tgd-" + "a" * 24  # where the caller waits
    assert alert.reference == "M 75 75056 01 1"  # identified from the number
    assert alert.ringing_at == datetime.fromisoformat("2026-11-23T09:29:00+00:00")
    assert alert.overflowed_at is None
    # The same call delivered again (a second spool line, a live retry): never twice.
    spool.append(_call("CAspool1"))
    spool.replay(lambda call: record_spooled(platform, call))
    count = session.scalar(select(func.count()).where(Alert.call_sid == "CAspool1"))
    assert count == 1


def test_a_call_dialled_to_the_backup_centre_is_not_overflowed_again(
    app: Flask, platform: Platform, session: Session
) -> None:
    spool: Spool = app.extensions["tgd.spool"]
    spool.append(_call("CAspool2", conference=None, dial=OVERFLOW_NUMBER))
    spool.replay(lambda call: record_spooled(platform, call))
    alert = session.scalar(select(Alert).where(Alert.call_sid == "CAspool2"))
    assert alert is not None and alert.overflowed_at is not None


def test_the_spool_keeps_the_call_while_the_database_is_down(
    app: Flask, platform: Platform, session: Session
) -> None:
    spool: Spool = app.extensions["tgd.spool"]
    spool.append(_call("CAspool3"))
    broken = create_engine("sqlite:////nonexistent-dir/tgd.db")
    platform.engine, healthy = broken, platform.engine
    try:
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
            spool.replay(lambda call: record_spooled(platform, call))
    finally:
        platform.engine = healthy
        broken.dispose()
    assert spool.pending() == 1  # claimed, not lost
    assert spool.replay(lambda call: record_spooled(platform, call)) == 1
    assert session.scalar(select(func.count()).where(Alert.call_sid == "CAspool3")) == 1


def test_a_deferred_webhook_is_recorded_in_the_conference_it_answered(
    app: Flask, platform: Platform, twilio: TwilioClient, session: Session, settings: Settings
) -> None:
    platform.settings = dataclasses.replace(
        settings, alerts=dataclasses.replace(settings.alerts, overflow_number="")
    )
    broken = create_engine("sqlite:////nonexistent-dir/tgd.db")
    platform.engine, healthy = broken, platform.engine
    try:
        response = twilio.call("CAspool4")
    finally:
        platform.engine = healthy
        broken.dispose()
        platform.settings = settings
    [conference] = CONFERENCE.findall(response.get_data(as_text=True))
    app.extensions["tgd.spool"].replay(lambda call: record_spooled(platform, call))
    alert = session.scalar(select(Alert).where(Alert.call_sid == "CAspool4"))
    assert alert is not None and alert.conference_name == conference


def test_an_unreadable_line_is_kept_aside_never_dropped(app: Flask, platform: Platform) -> None:
    spool: Spool = app.extensions["tgd.spool"]
    spool.append(_call("CAspool5"))
    other = Spool(spool.directory, "another-token-0123456789abcdef01")
    other.append(_call("CAspool6"))  # sealed under another token
    spool.replay(lambda call: record_spooled(platform, call))
    dead = list(spool.directory.glob("*.dead"))
    assert len(dead) == 1 and dead[0].read_text().count("\n") == 1


@pytest.fixture
def fallback(settings: Settings, tmp_path: Path) -> Iterator[FallbackServer]:
    """The fallback process's server on a free port, in a thread."""
    server = FallbackServer(("127.0.0.1", 0), settings, "")
    server.public_url = f"http://127.0.0.1:{server.server_address[1]}/voice"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _post(url: str, params: dict[str, str], signature: str | None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode())  # noqa: S310
    if signature is not None:
        request.add_header("X-Twilio-Signature", signature)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_fallback_process_bridges_and_spools_a_signed_call(
    fallback: FallbackServer, app: Flask, platform: Platform, session: Session
) -> None:
    params = {"CallSid": "CAfallback1", "From": LINE_1, "To": "+33199000000", "ErrorCode": "11200"}
    signature = RequestValidator(TOKEN).compute_signature(fallback.public_url, params)
    status, body = _post(fallback.public_url, params, signature)
    assert status == 200 and f"<Number>{OVERFLOW_NUMBER}</Number>" in body
    assert "<Say" not in body and "<Play" not in body
    # The app processes of the host replay the fallback's spool (same directory).
    spool: Spool = app.extensions["tgd.spool"]
    assert spool.replay(lambda call: record_spooled(platform, call)) == 1
    alert = session.scalar(select(Alert).where(Alert.call_sid == "CAfallback1"))
    assert alert is not None and alert.reference == "M 75 75056 01 1"
    assert alert.overflowed_at is not None  # the backup centre has the caller already


def test_the_fallback_process_refuses_unsigned_requests(fallback: FallbackServer) -> None:
    params = {"CallSid": "CAfallback2", "From": LINE_1, "To": "+33199000000"}
    assert _post(fallback.public_url, params, None)[0] == 403
    assert _post(fallback.public_url, params, "forged")[0] == 403
    assert fallback.spool.pending() == 0
    with urllib.request.urlopen(  # noqa: S310 - loopback
        fallback.public_url.replace("/voice", "/healthz"), timeout=5
    ) as response:
        assert response.status == 200
