"""Use cases of fiches navettes (R-10..R-15): drafts, submission, the operators' queue, files.

A navette's content is one JSON document encrypted under the navette's own
data key (R-52); once the navette is tied to a file (``file_id``), the
destruction of that file shreds this key too. Submitting checks the content
(``tgd.domain.navettes``) and then what only the database knows: the reference
exists in the sender's courts, the line is free and out of quarantine (R-17),
the file is assigned. Every refusal is a ``FieldErrors`` naming the field, and
nothing is written. Updates (R-12) and temporary information (R-13) are applied
to the file as soon as they are received; a termination opens the
confirmation task (R-15); an attribution waits in the operators' queue with its
15-minute clock (R-10) until an operator creates the file from it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from tgd.db.models.beneficiaries import BeneficiaryFile, TemporaryInfo
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.navettes import IntakeDocument, Navette, ParquetMessage
from tgd.db.models.territories import Juridiction
from tgd.db.models.users import User
from tgd.db.writes import write_transaction
from tgd.domain.beneficiary import PersonalData
from tgd.domain.errors import N_, Conflict
from tgd.domain.lifecycle import FileState, LineStatus, NavetteKind, NavetteSource, NavetteState
from tgd.domain.navettes import (
    Attribution,
    FieldErrors,
    NavetteContent,
    TemporaryInformation,
    Termination,
    Update,
    check_navette_transition,
    content_from_dict,
    deadline_for,
    is_breach,
    kind_of,
    seconds_left,
)
from tgd.domain.reference import Reference
from tgd.ports import Cipher, Clock, Mailer
from tgd.services import audit, files, lines, policy, vault
from tgd.settings import NATIONAL_TIMEZONE

log = logging.getLogger(__name__)

ACTIVE_FILE_STATES = frozenset({FileState.EN_CREATION, FileState.ATTRIBUE})
UNKNOWN_REFERENCE = N_("Aucune ligne ne porte la référence %(ref)s dans vos juridictions.")


@dataclass(frozen=True)
class QueueItem:
    """One row of the operators' intake queue (no personal data)."""

    navette: Navette
    juridiction: str
    timezone: str
    seconds_left: int | None


def _assignment_by_reference(session: Session, text: str) -> LineAssignment | None:
    parsed = Reference.try_parse(text)
    if parsed is None:
        return None
    return session.scalar(
        select(LineAssignment)
        .where(LineAssignment.reference == str(parsed), LineAssignment.is_current.is_(True))
        .options(
            joinedload(LineAssignment.line)
            .joinedload(Line.juridiction)
            .joinedload(Juridiction.territory)
        )
    )


def timezone_of(juridiction: Juridiction) -> str:
    """Return the IANA zone of a court's territory (R-34)."""
    return juridiction.territory.timezone


def court_timezone(session: Session, juridiction_id: int) -> str:
    """Return the IANA zone of a court's territory, given the court's id (R-34)."""
    juridiction = session.get(Juridiction, juridiction_id)
    assert juridiction is not None  # a foreign key
    return timezone_of(juridiction)


def local_today(clock: Clock, timezone: str) -> date:
    """Return today's date on the territory's calendar."""
    return clock.now().astimezone(ZoneInfo(timezone)).date()


def file_of(session: Session, assignment: LineAssignment) -> BeneficiaryFile | None:
    """Return the file opened on an assignment record, if any."""
    return session.scalar(
        select(BeneficiaryFile).where(BeneficiaryFile.assignment_id == assignment.id)
    )


def check_assignable(record: LineAssignment, now: datetime, timezone: str) -> None:
    """R-17: refuse to assign a line that is not free, or still in its 7-day quarantine."""
    if record.status is LineStatus.EN_STOCK:
        raise FieldErrors(
            {
                "reference": [
                    (
                        N_("La ligne %(ref)s n'est pas encore activée (en stock)."),
                        {"ref": record.reference},
                    )
                ]
            }
        )
    if record.status is not LineStatus.EN_ATTENTE:
        raise FieldErrors(
            {
                "reference": [
                    (
                        N_("La ligne %(ref)s est déjà affectée (%(status)s)."),
                        {"ref": record.reference, "status": record.status.label},
                    )
                ]
            }
        )
    if record.available_from is not None and now < record.available_from:
        until = record.available_from.astimezone(ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M")
        raise FieldErrors(
            {
                "reference": [
                    (
                        N_(
                            "La ligne %(ref)s est en quarantaine jusqu'au %(until)s : "
                            "une ligne ne peut être réaffectée que 7 jours après une résiliation."
                        ),
                        {"ref": record.reference, "until": until},
                    )
                ]
            }
        )


def _reference_error(template: str, /, **params: object) -> FieldErrors:
    return FieldErrors({"reference": [(template, dict(params))]})


def _check_in_database(
    session: Session,
    content: NavetteContent,
    record: LineAssignment | None,
    *,
    scope: frozenset[int] | None,
    now: datetime,
    cipher: Cipher,
    exclude_navette_id: int | None = None,
) -> BeneficiaryFile | None:
    """Check what the database knows; return the file concerned (None for an attribution)."""
    if record is None or (scope is not None and record.line.juridiction_id not in scope):
        # Same answer for a missing reference and another court's.
        raise _reference_error(UNKNOWN_REFERENCE, ref=content.reference)
    if isinstance(content, Attribution):
        check_assignable(record, now, timezone_of(record.line.juridiction))
        pending = session.scalar(
            select(Navette.id).where(
                Navette.kind == NavetteKind.ATTRIBUTION,
                Navette.state == NavetteState.RECUE,
                Navette.juridiction_id == record.line.juridiction_id,
                Navette.id != (exclude_navette_id or 0),
                Navette.reference == record.reference,
            )
        )
        if pending is not None:
            raise _reference_error(
                N_("Une attribution de la ligne %(ref)s est déjà en cours de traitement."),
                ref=record.reference,
            )
        return None
    file = file_of(session, record)
    if file is None or file.state not in ACTIVE_FILE_STATES:
        raise _reference_error(
            N_("Aucune fiche attribuée ne correspond à la référence %(ref)s."),
            ref=record.reference,
        )
    if isinstance(content, Termination):
        personal = files.read_personal(session, file, cipher=cipher)
        if personal.last_name.casefold() != content.last_name.casefold():
            raise FieldErrors(
                {
                    "last_name": [
                        (N_("Ce nom ne correspond pas à la personne de cette référence."), {})
                    ]
                }
            )
    return file


def validate(
    session: Session,
    content: NavetteContent,
    *,
    scope: frozenset[int] | None,
    cipher: Cipher,
    clock: Clock,
    exclude_navette_id: int | None = None,
) -> tuple[NavetteContent, LineAssignment, BeneficiaryFile | None]:
    """Check a navette completely; return it normalised, its line record and its file."""
    record = _assignment_by_reference(session, content.reference)
    timezone = timezone_of(record.line.juridiction) if record else NATIONAL_TIMEZONE
    content = content.validated(today=local_today(clock, timezone))
    record = _assignment_by_reference(session, content.reference)
    file = _check_in_database(
        session,
        content,
        record,
        scope=scope,
        now=clock.now(),
        cipher=cipher,
        exclude_navette_id=exclude_navette_id,
    )
    assert record is not None
    return content, record, file


def _store_content(
    session: Session, navette: Navette, content: NavetteContent, *, cipher: Cipher, clock: Clock
) -> None:
    if navette.data_key_id is None:
        navette.data_key_id = vault.create_key(session, cipher, purpose="navette", clock=clock).id
    session.flush()
    vault.put_json(
        session, cipher, navette, "payload_enc", content.to_dict(), key_id=navette.data_key_id
    )
    navette.reference = content.reference or None


def read_content(session: Session, navette: Navette, *, cipher: Cipher) -> NavetteContent:
    """Decrypt a navette's content (``KeyDestroyed`` once its file was destroyed)."""
    data = vault.get_json(session, cipher, navette, "payload_enc", key_id=navette.data_key_id)
    return content_from_dict(navette.kind, data or {})


def save_draft(
    session: Session,
    content: NavetteContent,
    *,
    user: User,
    draft: Navette | None = None,
    cipher: Cipher,
    clock: Clock,
) -> Navette:
    """Keep an unfinished navette for later (not validated, not received)."""
    if draft is not None and draft.state is not NavetteState.BROUILLON:
        raise Conflict(N_("Cette navette a déjà été envoyée."))
    record = _assignment_by_reference(session, content.reference)
    scope = policy.juridiction_scope(user)
    if record is not None and (scope is None or record.line.juridiction_id in scope):
        juridiction_id = record.line.juridiction_id
    elif user.juridictions:
        juridiction_id = user.juridictions[0].id
    else:
        raise Conflict(N_("Votre compte n'est rattaché à aucune juridiction."))
    navette = draft or Navette(
        kind=kind_of(content),
        source=NavetteSource.PORTAIL,
        state=NavetteState.BROUILLON,
        submitted_by_id=user.id,
        created_at=clock.now(),
        juridiction_id=juridiction_id,
    )
    navette.juridiction_id = juridiction_id
    session.add(navette)
    _store_content(session, navette, content, cipher=cipher, clock=clock)
    session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="navette.draft",
        object_type="navette",
        object_id=navette.id,
        clock=clock,
    )
    return navette


def submit(
    session: Session,
    content: NavetteContent,
    *,
    user: User,
    draft: Navette | None = None,
    deadline_minutes: int = 15,
    cipher: Cipher,
    clock: Clock,
) -> Navette:
    """Receive a navette sent from the portal (``receive``) and audit its submission."""
    navette = receive(
        session,
        content,
        user=user,
        draft=draft,
        deadline_minutes=deadline_minutes,
        cipher=cipher,
        clock=clock,
    )
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="navette.submit",
        object_type="navette",
        object_id=navette.id,
        details={"kind": navette.kind.value},
        clock=clock,
    )
    return navette


def receive(
    session: Session,
    content: NavetteContent,
    *,
    user: User,
    draft: Navette | None = None,
    source: NavetteSource = NavetteSource.PORTAIL,
    received_at: datetime | None = None,
    intake: IntakeDocument | None = None,
    deadline_minutes: int = 15,
    cipher: Cipher,
    clock: Clock,
) -> Navette:
    """Receive a navette: validate it, start its clock (R-10) and act on it at once.

    Not audited: its callers audit the action that received it (``submit``, the intake's
    ``key_in``).
    """
    if draft is not None:
        check_navette_transition(draft.state, NavetteState.RECUE)
    scope = policy.juridiction_scope(user)
    content, record, file = validate(
        session,
        content,
        scope=scope,
        cipher=cipher,
        clock=clock,
        exclude_navette_id=draft.id if draft else None,
    )
    received = received_at or clock.now()
    navette = draft or Navette(kind=kind_of(content), created_at=clock.now())
    navette.kind = kind_of(content)
    navette.source = source
    navette.state = NavetteState.RECUE
    navette.juridiction_id = record.line.juridiction_id
    navette.file_id = file.id if file else None
    navette.received_at = received
    navette.deadline_at = deadline_for(navette.kind, received, deadline_minutes)
    navette.intake_id = intake.id if intake else None
    if source is NavetteSource.PORTAIL:
        navette.submitted_by_id = user.id
    session.add(navette)
    _store_content(session, navette, content, cipher=cipher, clock=clock)
    session.flush()
    if file is not None:
        _act_on_receipt(session, navette, content, file, user=user, cipher=cipher, clock=clock)
    log.info("navette=%s received kind=%s source=%s", navette.id, navette.kind, source)
    return navette


def _act_on_receipt(
    session: Session,
    navette: Navette,
    content: NavetteContent,
    file: BeneficiaryFile,
    *,
    user: User,
    cipher: Cipher,
    clock: Clock,
) -> None:
    """R-12, R-13, R-15: updates and temporary information apply at once; a termination
    opens its confirmation task."""
    from tgd.services import termination

    if isinstance(content, Update):
        current = files.read_personal(session, file, cipher=cipher)
        files.update_personal(
            session,
            file,
            content.apply_to(current),
            navette_id=navette.id,
            author_id=user.id,
            cipher=cipher,
            clock=clock,
        )
        _mark_processed(navette, user=user, clock=clock)
    elif isinstance(content, TemporaryInformation):
        add_temporary_info(
            session, file, content, navette=navette, user=user, cipher=cipher, clock=clock
        )
        _mark_processed(navette, user=user, clock=clock)
    elif isinstance(content, Termination):
        termination.open_termination(
            session,
            file,
            navette=navette,
            user=user,
            termination_date=content.end_date,
            clock=clock,
        )


def add_temporary_info(
    session: Session,
    file: BeneficiaryFile,
    content: TemporaryInformation,
    *,
    navette: Navette | None,
    user: User,
    cipher: Cipher,
    clock: Clock,
) -> TemporaryInfo:
    """R-13: note information valid for a period, without modifying the file."""
    juridiction = session.get(Juridiction, file.juridiction_id)
    assert juridiction is not None and file.data_key_id is not None
    start, end = content.period(timezone_of(juridiction))
    info = TemporaryInfo(
        file_id=file.id,
        valid_from=start,
        valid_until=end,
        content_enc=b"",
        navette_id=navette.id if navette else None,
        author_id=user.id,
        created_at=clock.now(),
    )
    session.add(info)
    vault.put_text(session, cipher, info, "content_enc", content.content, key_id=file.data_key_id)
    session.flush()
    return info


def _mark_processed(navette: Navette, *, user: User | None, clock: Clock) -> None:
    check_navette_transition(navette.state, NavetteState.TRAITEE)
    navette.state = NavetteState.TRAITEE
    navette.processed_at = clock.now()
    navette.processed_by_id = user.id if user else None
    navette.is_breach = is_breach(navette.deadline_at, navette.processed_at)


def create_file(
    session: Session,
    navette: Navette,
    *,
    personal: PersonalData,
    association_id: int | None,
    user: User,
    cipher: Cipher,
    clock: Clock,
) -> BeneficiaryFile:
    """R-10: create and number the file from an attribution; the line goes into service."""
    if navette.kind is not NavetteKind.ATTRIBUTION:
        raise Conflict(N_("Seule une navette d'attribution crée une fiche."))
    check_navette_transition(navette.state, NavetteState.TRAITEE)
    content = read_content(session, navette, cipher=cipher)
    assert isinstance(content, Attribution)
    # The operator may correct what was keyed; the result is checked like a submission.
    checked = Attribution(content.reference, personal, association_id)
    checked_content, record, _ = validate(
        session,
        checked,
        scope=None,
        cipher=cipher,
        clock=clock,
        exclude_navette_id=navette.id,
    )
    assert isinstance(checked_content, Attribution)
    file = files.open_file(
        session,
        assignment=record,
        personal=checked_content.personal,
        association_id=association_id,
        navette_id=navette.id,
        author_id=user.id,
        cipher=cipher,
        clock=clock,
    )
    lines.change_status(session, record, LineStatus.MISE_EN_SERVICE, user_id=user.id, clock=clock)
    navette.file_id = file.id
    _mark_processed(navette, user=user, clock=clock)  # breach flagged when late
    session.flush()
    log.info("navette=%s file=%s created breach=%s", navette.id, file.id, navette.is_breach)
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="file.create",
        object_type="file",
        object_id=file.id,
        details={"breach": navette.is_breach},
        clock=clock,
    )
    return file


def list_for(session: Session, user: User, *, limit: int = 200) -> list[Navette]:
    """List the navettes the user may see, newest first (no decryption)."""
    query = policy.scoped(select(Navette), user, Navette)
    if policy.juridiction_scope(user) is not None:
        # A parquet sees the navettes of its courts, drafts only its own.
        query = query.where(
            (Navette.state != NavetteState.BROUILLON) | (Navette.submitted_by_id == user.id)
        )
    return list(session.scalars(query.order_by(Navette.id.desc()).limit(limit)))


def queue(session: Session, *, clock: Clock) -> list[QueueItem]:
    """R-10: attributions waiting for their file, the most urgent first, with time left."""
    rows = session.scalars(
        select(Navette)
        .where(Navette.state == NavetteState.RECUE, Navette.kind == NavetteKind.ATTRIBUTION)
        .order_by(Navette.deadline_at, Navette.id)
    )
    now = clock.now()
    items = []
    for n in rows:
        juridiction = session.get(Juridiction, n.juridiction_id)
        assert juridiction is not None
        items.append(
            QueueItem(
                n, juridiction.name, timezone_of(juridiction), seconds_left(n.deadline_at, now)
            )
        )
    return items


def send_to_parquet(
    session: Session,
    file: BeneficiaryFile,
    *,
    text: str,
    user: User,
    cipher: Cipher,
    clock: Clock,
) -> ParquetMessage:
    """R-14: send new information to the parquet référent (encrypted with the file's key)."""
    text = text.strip()
    if not text:
        raise FieldErrors({"text": [(N_("Le message est vide."), {})]})
    if len(text) > 4000:
        raise FieldErrors(
            {"text": [(N_("Le message est trop long (4000 caractères au plus)."), {})]}
        )
    if file.data_key_id is None or file.state in (FileState.DETRUIT,):
        raise Conflict(N_("Cette fiche a été détruite."))
    message = ParquetMessage(
        file_id=file.id, author_id=user.id, content_enc=b"", sent_at=clock.now()
    )
    session.add(message)
    vault.put_text(session, cipher, message, "content_enc", text, key_id=file.data_key_id)
    session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="parquet_message.send",
        object_type="parquet_message",
        object_id=message.id,
        clock=clock,
    )
    return message


def read_message(
    session: Session, message: ParquetMessage, *, user: User, cipher: Cipher, clock: Clock
) -> str:
    """Decrypt a message for the parquet and mark it read."""
    file = session.get(BeneficiaryFile, message.file_id)
    assert file is not None
    text = vault.get_text(session, cipher, message, "content_enc", key_id=file.data_key_id) or ""
    if message.read_at is None and user.role.value == "parquet":
        message.read_at = clock.now()
        session.flush()
    return text


def messages_for(session: Session, user: User) -> list[tuple[ParquetMessage, BeneficiaryFile]]:
    """List the messages to the user's parquet, newest first (no decryption)."""
    query = (
        select(ParquetMessage, BeneficiaryFile)
        .join(BeneficiaryFile, ParquetMessage.file_id == BeneficiaryFile.id)
        .order_by(ParquetMessage.id.desc())
    )
    return [(m, f) for m, f in session.execute(policy.scoped(query, user, BeneficiaryFile))]


def notify_parquets(
    sessions: sessionmaker[Session], *, mailer: Mailer, portal_url: str, clock: Clock
) -> int:
    """R-14: tell each parquet by e-mail that new information awaits in its portal.

    The mail names only the file number and the portal: no personal data (E-11).
    Messages whose court has no e-mail address stay pending. Each mail is sent outside
    any transaction, then marked sent in a short one of its own (a relay failure leaves
    the rest pending; a crash between the two sends that notice again, never loses it).
    Returns the count sent.
    """
    with sessions() as session:
        pending = session.execute(
            select(ParquetMessage.id, BeneficiaryFile.number, Juridiction.parquet_email)
            .join(BeneficiaryFile, ParquetMessage.file_id == BeneficiaryFile.id)
            .join(Juridiction, BeneficiaryFile.juridiction_id == Juridiction.id)
            .where(ParquetMessage.notified_at.is_(None), Juridiction.parquet_email.is_not(None))
            .order_by(ParquetMessage.id)
        ).all()
    sent = 0
    for message_id, number, address in pending:
        mailer.send(
            to=str(address),
            subject=f"TGD — nouvelle information sur la fiche {number}",
            body=(
                "Bonjour,\n\n"
                f"Le centre de téléassistance a transmis une nouvelle information concernant "
                f"la fiche {number}.\n"
                f"Consultez-la sur le portail des parquets : {portal_url}\n\n"
                "Ce message ne contient aucune donnée personnelle.\n"
            ),
        )
        with write_transaction(sessions, label="parquet notice") as session:
            message = session.get(ParquetMessage, message_id)
            if message is not None:
                message.notified_at = clock.now()
        sent += 1
    return sent
