"""Navettes that arrive by e-mail or fax (R-10): the intake queue and keying them in.

An e-mail's PDF or image attachments (or, without any, its text) become
``IntakeDocument`` rows, each encrypted under its own data key (R-52) with
its reception time: R-10's clock starts there, not when an operator gets to
it. The operator opens the original beside the navette form and keys it in;
the navette is then submitted like a portal one, with the document's
reception time and source, and the document is marked handled. Intake is
idempotent on the message id (a redelivered e-mail is stored once).
"""

from __future__ import annotations

import email
import email.policy
import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.navettes import IntakeDocument, Navette
from tgd.db.models.users import User
from tgd.domain.errors import N_, NOT_FOUND_OR_HIDDEN, Conflict, NotFound
from tgd.domain.lifecycle import NavetteKind, NavetteSource
from tgd.domain.navettes import NavetteContent, deadline_for, seconds_left
from tgd.ports import Cipher, Clock
from tgd.services import audit, navettes, vault

log = logging.getLogger(__name__)

ACCEPTED_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/tiff"})
MAX_DOCUMENT_BYTES = 15 * 1024 * 1024


@dataclass(frozen=True)
class PendingDocument:
    """A document waiting to be keyed in, with the time left if it is an attribution."""

    document: IntakeDocument
    deadline_at: datetime | None
    seconds_left: int | None


def receive_document(
    session: Session,
    *,
    source: NavetteSource,
    content_type: str,
    content: bytes,
    message_id: str | None,
    received_at: datetime,
    cipher: Cipher,
    clock: Clock,
) -> IntakeDocument | None:
    """Store one received document encrypted; None when this message id is already stored."""
    if message_id and session.scalar(
        select(IntakeDocument.id).where(IntakeDocument.message_id == message_id)
    ):
        return None
    if len(content) > MAX_DOCUMENT_BYTES:
        raise Conflict(N_("Le document reçu est trop volumineux."))
    key = vault.create_key(session, cipher, purpose="intake", clock=clock)
    document = IntakeDocument(
        source=source,
        received_at=received_at,
        message_id=message_id,
        content_type=content_type,
        data_key_id=key.id,
    )
    session.add(document)
    vault.put_text(session, cipher, document, "content_enc", content.hex(), key_id=key.id)
    session.flush()
    log.info("intake document=%s received source=%s type=%s", document.id, source, content_type)
    return document


def receive_email(
    session: Session, raw: bytes, *, actor: str, cipher: Cipher, clock: Clock
) -> list[IntakeDocument]:
    """Store an e-mail's PDF/image attachments (or its text) as intake documents.

    Each new document is audited (``intake.received``) as ``actor``, in the caller's
    transaction; a redelivered one is neither stored nor audited again.
    """
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    message_id = (message.get("Message-ID") or "").strip() or None
    # the clock starts at arrival here, whatever the sender's Date header says.
    received_at = clock.now()
    parts: list[tuple[str, bytes]] = []
    for part in message.iter_attachments():
        content_type = part.get_content_type()
        if content_type in ACCEPTED_TYPES:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append((content_type, payload))
    if not parts:
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        if text.strip():
            parts.append(("text/plain", text.encode("utf-8")))
    stored = []
    for index, (content_type, content) in enumerate(parts):
        doc = receive_document(
            session,
            source=NavetteSource.EMAIL,
            content_type=content_type,
            content=content,
            message_id=f"{message_id}#{index}" if message_id else None,
            received_at=received_at,
            cipher=cipher,
            clock=clock,
        )
        if doc is not None:
            stored.append(doc)
            audit.record(
                session,
                actor=actor,
                action="intake.received",
                object_type="intake_document",
                object_id=doc.id,
                clock=clock,
            )
    return stored


def pending(session: Session, *, clock: Clock, minutes: int = 15) -> list[PendingDocument]:
    """List documents not yet keyed in, oldest first, with the R-10 time left."""
    now = clock.now()
    rows = session.scalars(
        select(IntakeDocument)
        .where(IntakeDocument.handled_at.is_(None))
        .order_by(IntakeDocument.received_at, IntakeDocument.id)
    )
    # Until keyed in, a document may be an attribution: its clock runs.
    items = []
    for d in rows:
        deadline = deadline_for(NavetteKind.ATTRIBUTION, d.received_at, minutes)
        items.append(PendingDocument(d, deadline, seconds_left(deadline, now)))
    return items


def get_pending_document(session: Session, document_id: int) -> IntakeDocument:
    """Fetch a received document still waiting to be keyed in, or raise ``NotFound``."""
    document = session.get(IntakeDocument, document_id)
    if document is None or document.handled_at is not None:
        raise NotFound(NOT_FOUND_OR_HIDDEN)
    return document


def read_document(session: Session, document: IntakeDocument, *, cipher: Cipher) -> bytes:
    """Decrypt a received document."""
    text = vault.get_text(session, cipher, document, "content_enc", key_id=document.data_key_id)
    return bytes.fromhex(text or "")


def key_in(
    session: Session,
    document: IntakeDocument,
    content: NavetteContent,
    *,
    user: User,
    deadline_minutes: int = 15,
    cipher: Cipher,
    clock: Clock,
) -> Navette:
    """Submit the navette read from a document, with the document's reception time (R-10)."""
    if document.handled_at is not None:
        raise Conflict(N_("Ce document a déjà été saisi."))
    navette = navettes.receive(
        session,
        content,
        user=user,
        source=document.source,
        received_at=document.received_at,
        intake=document,
        deadline_minutes=deadline_minutes,
        cipher=cipher,
        clock=clock,
    )
    document.handled_at = clock.now()
    document.handled_by_id = user.id
    session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="navette.key_in",
        object_type="navette",
        object_id=navette.id,
        details={"kind": navette.kind.value},
        clock=clock,
    )
    return navette


def set_aside(session: Session, document: IntakeDocument, *, user: User, clock: Clock) -> None:
    """Mark a document handled without a navette (not a navette, duplicate)."""
    if document.handled_at is not None:
        raise Conflict(N_("Ce document a déjà été saisi."))
    document.handled_at = clock.now()
    document.handled_by_id = user.id
    session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="intake.set_aside",
        object_type="intake_document",
        object_id=document.id,
        clock=clock,
    )
