"""SMS for the operators (R-22 for texts): from an unknown number, or free text from a terminal.

``record_sms`` keeps the message encrypted — the text, and the sender's number
when the sender is not a known line — announces it to the consoles through the
outbox (E-02: ids only) and audits its arrival; the carrier gets an empty
answer and never an error, so it does not retry nor call its fallback. The
operators read the messages in the console (``list_messages``, audited by the
door) and mark each one as read once dealt with (``mark_read``). Logs name
ids only: never a number, never a text (E-11).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.messages import InboundSms
from tgd.db.models.users import User
from tgd.domain.errors import N_, NotFound
from tgd.ports import Cipher, Clock
from tgd.services import audit, events, vault
from tgd.services.alerts import ensure_line_key, identify

log = logging.getLogger(__name__)

MAX_BODY = 1600  # ten concatenated SMS; anything longer is cut
RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class SmsView:
    """A message as the console shows it (decrypted)."""

    id: int
    received_at: datetime
    sender: str | None  # the number, for an unknown sender
    reference: str | None  # the line's reference, for a known terminal
    file_id: int | None
    body: str
    read_at: datetime | None


def find(session: Session, message_sid: str) -> InboundSms | None:
    """Return the message already stored under this carrier id (E-03)."""
    return session.scalar(select(InboundSms).where(InboundSms.message_sid == message_sid))


def record_sms(
    session: Session,
    *,
    message_sid: str,
    from_number: str | None,
    body: str,
    line: Line | None,
    cipher: Cipher,
    clock: Clock,
) -> InboundSms:
    """Keep an SMS for the operators, encrypted, and announce it; a repeat returns the first."""
    existing = find(session, message_sid)
    if existing is not None:
        return existing
    file = None
    if line is not None:
        _, _, file = identify(session, line.msisdn)
    if file is not None and file.data_key_id is not None:
        key_id = file.data_key_id
    elif line is not None:
        key_id = ensure_line_key(session, line, cipher=cipher, clock=clock)
    else:
        # An unknown sender: the number and the text under a key of their own.
        key_id = vault.create_key(session, cipher, purpose="sms", clock=clock).id
    message = InboundSms(
        message_sid=message_sid[:80],
        line_id=line.id if line else None,
        file_id=file.id if file else None,
        territory_id=line.juridiction.territory_id if line else None,
        data_key_id=key_id,
        body_enc=b"",  # filled below, once the row has its id (E-07)
        received_at=clock.now(),
    )
    session.add(message)
    vault.put_text(session, cipher, message, "body_enc", body[:MAX_BODY], key_id=key_id)
    if line is None and from_number:
        vault.put_text(session, cipher, message, "sender_enc", from_number, key_id=key_id)
    session.flush()
    events.add_event(
        session,
        events.SMS_RECEIVED,
        {"sms_id": message.id, "line_id": message.line_id, "identified": line is not None},
        territory_id=message.territory_id,
        clock=clock,
    )
    audit.record(
        session,
        actor="carrier",
        action="sms.received",
        object_type="sms",
        object_id=message.id,
        details={"identified": line is not None},
        clock=clock,
    )
    log.info("sms=%s kept for the operators identified=%s", message.id, line is not None)
    return message


def list_messages(
    session: Session, *, cipher: Cipher, clock: Clock, limit: int = 50
) -> list[SmsView]:
    """Return the unread messages and those of the last 24 hours, newest first, decrypted."""
    rows = session.execute(
        select(InboundSms, LineAssignment.reference)
        .outerjoin(
            LineAssignment,
            (LineAssignment.line_id == InboundSms.line_id) & LineAssignment.is_current.is_(True),
        )
        .where(
            InboundSms.data_key_id.is_not(None),
            or_(InboundSms.read_at.is_(None), InboundSms.received_at >= clock.now() - RECENT),
        )
        .order_by(InboundSms.received_at.desc(), InboundSms.id.desc())
        .limit(limit)
    ).all()
    return [
        SmsView(
            id=m.id,
            received_at=m.received_at,
            sender=vault.get_text(session, cipher, m, "sender_enc", key_id=m.data_key_id)
            if m.sender_enc is not None
            else None,
            reference=reference,
            file_id=m.file_id,
            body=vault.get_text(session, cipher, m, "body_enc", key_id=m.data_key_id) or "",
            read_at=m.read_at,
        )
        for m, reference in rows
    ]


def mark_read(session: Session, sms_id: int, *, user: User, clock: Clock) -> InboundSms:
    """Record that an operator has read the message and dealt with it (audited each time)."""
    message = session.get(InboundSms, sms_id)
    if message is None:
        raise NotFound(N_("Ce message n'existe pas."))
    if message.read_at is None:
        message.read_at = clock.now()
        message.read_by_id = user.id
        session.flush()
        events.add_event(
            session,
            events.SMS_READ,
            {"sms_id": message.id},
            territory_id=message.territory_id,
            clock=clock,
        )
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="sms.read",
        object_type="sms",
        object_id=message.id,
        clock=clock,
    )
    return message
