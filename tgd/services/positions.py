"""Positions from terminals (R-28): SMS (AML or simple format) and signed HTTPS, stored encrypted.

An SMS that is not a position — from a number that is no terminal line, or free
text from a terminal — is no error: it is kept for the operators
(``tgd.services.messages``), since a person in danger may text from another phone.

Coordinates are personal data: they are encrypted with the data key of the
line's current file, or with the line's own key when it has no file (R-52),
so destroying the file makes them unreadable. A position is attached to the
line's ongoing alert, answers the last open position request, and is
announced to the consoles through the outbox (E-02). Data-capable terminals
sign their HTTPS positions with a per-line secret (HMAC-SHA256 over
timestamp, nonce and body); a stale timestamp or a nonce seen before is
refused (R-54).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tgd.db.models.lines import Line
from tgd.db.models.messages import InboundSms
from tgd.db.models.positions import Position, PositionRequest, TerminalCredential, TerminalNonce
from tgd.domain.positions import Fix, PositionError, fix_from_json, parse_sms, sign_terminal_body
from tgd.ports import Cipher, Clock
from tgd.services import events, messages, vault
from tgd.services.alerts import ensure_line_key, identify, ongoing_alert_for_line

log = logging.getLogger(__name__)
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def receive_sms(
    session: Session,
    *,
    message_sid: str,
    from_number: str | None,
    body: str,
    tolerance: timedelta,
    cipher: Cipher,
    clock: Clock,
) -> Position | InboundSms:
    """Store a terminal's position sent by SMS, or keep any other SMS for the operators.

    A repeated MessageSid returns what the first delivery stored (E-03). A malformed
    position from a terminal is still refused (``PositionError``): the terminal's
    software is wrong, and says so to the carrier's logs.
    """
    existing = session.scalar(select(Position).where(Position.message_id == message_sid))
    if existing is not None:
        return existing
    kept = messages.find(session, message_sid)
    if kept is not None:
        return kept
    line, _, _ = identify(session, from_number)
    if line is None:
        return messages.record_sms(
            session,
            message_sid=message_sid,
            from_number=from_number,
            body=body,
            line=None,
            cipher=cipher,
            clock=clock,
        )
    try:
        fix = parse_sms(body, now=clock.now(), tolerance=tolerance)
    except PositionError as exc:
        if exc.code != "unknown_format":
            raise
        # Not a position at all: words from the person, for the operators.
        return messages.record_sms(
            session,
            message_sid=message_sid,
            from_number=from_number,
            body=body,
            line=line,
            cipher=cipher,
            clock=clock,
        )
    return store(
        session, line, fix, channel="sms", message_id=message_sid, cipher=cipher, clock=clock
    )


def receive_signed(
    session: Session,
    *,
    key_id: str,
    timestamp: str,
    nonce: str,
    signature: str,
    body: bytes,
    tolerance: timedelta,
    cipher: Cipher,
    clock: Clock,
) -> Position:
    """Check a terminal's signed HTTPS position (R-54), then store it (R-28)."""
    if not (key_id and timestamp and nonce and signature):
        raise PositionError(
            "missing_signature", None, "X-TGD-Key, -Timestamp, -Nonce and -Signature are required"
        )
    credential = session.scalar(
        select(TerminalCredential).where(
            TerminalCredential.key_id == key_id, TerminalCredential.revoked_at.is_(None)
        )
    )
    if credential is None:
        raise PositionError("unknown_key", "X-TGD-Key", "unknown or revoked terminal key")
    line = session.get(Line, credential.line_id)
    assert line is not None
    secret = (
        vault.get_text(session, cipher, credential, "secret_enc", key_id=line.data_key_id) or ""
    )
    if not hmac.compare_digest(
        sign_terminal_body(secret, timestamp, nonce, body), signature.lower()
    ):
        raise PositionError("bad_signature", "X-TGD-Signature", "signature does not match")
    now = clock.now()
    if not timestamp.isdigit() or abs(now.timestamp() - int(timestamp)) > tolerance.total_seconds():
        raise PositionError(
            "stale_timestamp", "X-TGD-Timestamp", "timestamp outside the accepted window"
        )
    if not _NONCE_RE.fullmatch(nonce):
        raise PositionError("invalid_value", "X-TGD-Nonce", "nonce must be 16-64 of [A-Za-z0-9_-]")
    _use_nonce(session, credential, nonce, now=now, tolerance=tolerance)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PositionError("invalid_body", None, "body is not JSON") from None
    fix = fix_from_json(data, now=now, tolerance=tolerance)
    return store(
        session,
        line,
        fix,
        channel="https",
        message_id=f"https:{key_id}:{nonce}",
        cipher=cipher,
        clock=clock,
    )


def _use_nonce(
    session: Session,
    credential: TerminalCredential,
    nonce: str,
    *,
    now: datetime,
    tolerance: timedelta,
) -> None:
    # A nonce older than twice the window cannot come back with a fresh timestamp: forget it.
    session.execute(delete(TerminalNonce).where(TerminalNonce.seen_at < now - 2 * tolerance))
    seen = session.scalar(
        select(TerminalNonce.id).where(
            TerminalNonce.credential_id == credential.id, TerminalNonce.nonce == nonce
        )
    )
    if seen is not None:
        raise PositionError("replayed_nonce", "X-TGD-Nonce", "nonce already used")
    session.add(TerminalNonce(credential_id=credential.id, nonce=nonce, seen_at=now))
    session.flush()


def store(
    session: Session,
    line: Line,
    fix: Fix,
    *,
    channel: str,
    message_id: str | None,
    cipher: Cipher,
    clock: Clock,
) -> Position:
    """Store a validated fix, encrypted, attached to the line's ongoing alert, and announce it."""
    _, _, file = identify(session, line.msisdn)
    key_id = (
        file.data_key_id
        if file and file.data_key_id
        else ensure_line_key(session, line, cipher=cipher, clock=clock)
    )
    alert = ongoing_alert_for_line(session, line.id)
    now = clock.now()
    position = Position(
        message_id=message_id,
        line_id=line.id,
        file_id=file.id if file else None,
        alert_id=alert.id if alert else None,
        data_key_id=key_id,
        coords_enc=b"",  # filled below, once the row has its id (E-07)
        accuracy_m=fix.accuracy_m,
        confidence_pct=fix.confidence_pct,
        source=fix.source,
        channel=channel,
        captured_at=fix.captured_at,
        received_at=now,
    )
    session.add(position)
    vault.put_json(
        session, cipher, position, "coords_enc", {"lat": fix.lat, "lon": fix.lon}, key_id=key_id
    )
    pending = session.scalar(
        select(PositionRequest)
        .where(PositionRequest.line_id == line.id, PositionRequest.answered_at.is_(None))
        .order_by(PositionRequest.id.desc())
        .limit(1)
    )
    if pending is not None:
        pending.answered_at = now
    session.flush()
    events.add_event(
        session,
        events.POSITION_RECEIVED,
        {
            "position_id": position.id,
            "line_id": line.id,
            "alert_id": position.alert_id,
            "source": fix.source.value,
        },
        territory_id=alert.territory_id if alert else None,
        clock=clock,
    )
    log.info(
        "position=%s stored line=%s alert=%s channel=%s",
        position.id,
        line.id,
        position.alert_id,
        channel,
    )
    return position


def read_coordinates(
    session: Session, position: Position, *, cipher: Cipher
) -> tuple[float, float]:
    """Decrypt a position's coordinates (``KeyDestroyed`` once its file is destroyed)."""
    coords = vault.get_json(session, cipher, position, "coords_enc", key_id=position.data_key_id)
    return float(coords["lat"]), float(coords["lon"])


def issue_credential(
    session: Session, line: Line, *, cipher: Cipher, clock: Clock
) -> tuple[str, str]:
    """Create a terminal's HMAC credential for its line; return (key id, secret) to provision."""
    key_id = ensure_line_key(session, line, cipher=cipher, clock=clock)
    credential = TerminalCredential(
        key_id="tk_" + secrets.token_hex(12),
        line_id=line.id,
        secret_enc=b"",
        created_at=clock.now(),
    )
    session.add(credential)
    secret = secrets.token_urlsafe(32)
    vault.put_text(session, cipher, credential, "secret_enc", secret, key_id=key_id)
    session.flush()
    return credential.key_id, secret


def credential_for_line(session: Session, line: Line, *, cipher: Cipher) -> tuple[str, str] | None:
    """Return a line's active (key id, secret), for provisioning and the simulator."""
    credential = session.scalar(
        select(TerminalCredential)
        .where(TerminalCredential.line_id == line.id, TerminalCredential.revoked_at.is_(None))
        .order_by(TerminalCredential.id.desc())
        .limit(1)
    )
    if credential is None:
        return None
    secret = vault.get_text(session, cipher, credential, "secret_enc", key_id=line.data_key_id)
    return credential.key_id, secret or ""
