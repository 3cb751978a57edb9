"""Call restrictions (Annexe 2 I.1): allow-lists per line, their history, the carrier's CSV, and
what the gateway does with a terminal's call or SMS to another number.

An administrator sets or lifts a line's restriction at the parquet's request
(``set_restriction``, ``lift_restriction``): each change is a new version, the
numbers encrypted under the line's data key (R-52), and an audit entry with
counts only. ``carrier_csv`` is the full list the carrier configures on its
network (format in docs/lines.md). When the carrier routes a terminal's call
or SMS to a third party through our webhooks (``[restrictions]
gateway_outbound``), ``route_outgoing_call`` and ``route_outgoing_sms`` decide:
a number the line may reach is put through; any other is recorded as
non-compliant use (an alert of nature « non conforme », counted in report
table 9) and not put through. A refused *call* is answered by the centre like
any alert, because the person holding a TGD terminal may be in danger; a
refused SMS is not delivered and is recorded, closed.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.restrictions import LineRestriction
from tgd.db.models.users import User
from tgd.domain.alerts import AlertState
from tgd.domain.errors import N_, Conflict, ValidationError
from tgd.domain.restrictions import AllowList, Channel, decide, parse_numbers
from tgd.ports import Cipher, Clock
from tgd.services import audit, vault
from tgd.services.alerts import (
    CallKind,
    CallRoute,
    IncomingCall,
    answer_once,
    ensure_line_key,
    identify,
    open_alert,
)
from tgd.settings import GatewaySettings, RestrictionSettings

log = logging.getLogger(__name__)

CSV_HEADER = ("msisdn", "allowed_number", "voice", "sms", "category", "restricted_since")
MAX_REQUEST_REF = 120


@dataclass(frozen=True)
class RestrictionView:
    """A line and its restriction in force, for listings (counts only, no numbers)."""

    line_id: int
    reference: str | None
    msisdn: str
    juridiction_id: int
    restriction: LineRestriction | None


@dataclass(frozen=True)
class SmsRoute:
    """What the gateway does with a terminal's SMS to another number."""

    relay_to: str | None  # put through to this number, or None: not delivered
    sender: str | None = None  # the caller id of the relayed SMS


def _current_assignment_id(session: Session, line_id: int) -> int | None:
    return session.scalar(
        select(LineAssignment.id).where(
            LineAssignment.line_id == line_id, LineAssignment.is_current.is_(True)
        )
    )


def _in_force(session: Session, line_id: int) -> LineRestriction | None:
    return session.scalar(
        select(LineRestriction)
        .where(LineRestriction.line_id == line_id, LineRestriction.superseded_at.is_(None))
        .order_by(LineRestriction.id.desc())
        .limit(1)
    )


def current_restriction(session: Session, line: Line) -> LineRestriction | None:
    """Return the restriction in force for the line's current assignment, if any."""
    version = _in_force(session, line.id)
    if version is None or not version.is_restricted:
        return None
    if version.assignment_id != _current_assignment_id(session, line.id):
        return None  # set for a previous beneficiary (Y-1): the new person starts unrestricted
    return version


def allow_list_of(session: Session, line: Line, *, cipher: Cipher) -> AllowList | None:
    """Decrypt the line's allow-list in force; None when the line is not restricted."""
    version = current_restriction(session, line)
    if version is None:
        return None
    return read_version(session, version, cipher=cipher)


def read_version(session: Session, version: LineRestriction, *, cipher: Cipher) -> AllowList:
    """Decrypt the numbers of one version (empty for a version that lifts the restriction)."""
    if version.numbers_enc is None:
        return AllowList()
    data = vault.get_json(session, cipher, version, "numbers_enc", key_id=version.data_key_id)
    return AllowList.from_json(data)


@dataclass(frozen=True)
class RestrictionDetail:
    """What an administrator sees of a line's restriction: the lists, history, refusals."""

    line: Line
    reference: str | None
    current: LineRestriction | None
    allow_list: AllowList | None
    history: list[tuple[LineRestriction, str | None]]  # version, author's display name
    refused: list[Alert]


def describe(session: Session, line: Line, *, cipher: Cipher) -> RestrictionDetail:
    """Decrypt the line's lists in force and gather its history and refused attempts."""
    current = current_restriction(session, line)
    authors = dict(session.execute(select(User.id, User.display_name)).all())
    reference = session.scalar(
        select(LineAssignment.reference).where(
            LineAssignment.line_id == line.id, LineAssignment.is_current.is_(True)
        )
    )
    return RestrictionDetail(
        line=line,
        reference=reference,
        current=current,
        allow_list=read_version(session, current, cipher=cipher) if current else None,
        history=[
            (v, authors.get(v.author_id) if v.author_id else None) for v in history(session, line)
        ],
        refused=refused_alerts(session, line.id),
    )


def _check_request(request_ref: str, requested_on: date, *, clock: Clock) -> str:
    ref = " ".join(request_ref.split())
    if not ref:
        raise ValidationError(
            N_("Indiquez la référence de la demande du parquet (courrier, navette, date).")
        )
    if len(ref) > MAX_REQUEST_REF:
        raise ValidationError(
            N_("La référence de la demande ne doit pas dépasser %(n)s caractères."),
            n=MAX_REQUEST_REF,
        )
    # The parquet's date is a local one: Nouméa's day begins up to 14 hours before UTC's.
    if requested_on > (clock.now() + timedelta(hours=14)).date():
        raise ValidationError(N_("La date de la demande ne peut pas être dans le futur."))
    return ref


def _supersede(session: Session, line_id: int, now: datetime) -> None:
    for old in session.scalars(
        select(LineRestriction).where(
            LineRestriction.line_id == line_id, LineRestriction.superseded_at.is_(None)
        )
    ):
        old.superseded_at = now


def _add_version(
    session: Session,
    line: Line,
    *,
    restricted: bool,
    request_ref: str,
    requested_on: date,
    user_id: int | None,
    now: datetime,
    data_key_id: int | None = None,
    voice_count: int = 0,
    sms_count: int = 0,
) -> LineRestriction:
    """Add the line's new version (a list in force, or the lifting) for the parquet's request."""
    version = LineRestriction(
        line_id=line.id,
        assignment_id=_current_assignment_id(session, line.id),
        is_restricted=restricted,
        data_key_id=data_key_id,
        voice_count=voice_count,
        sms_count=sms_count,
        request_ref=request_ref,
        requested_on=requested_on,
        author_id=user_id,
        created_at=now,
    )
    session.add(version)
    session.flush()
    return version


def _audit(
    session: Session,
    line: Line,
    action: str,
    details: dict[str, object],
    *,
    user_id: int | None,
    clock: Clock,
) -> None:
    # No user: the change came from the command line (``tgd restrictions``).
    audit.record(
        session,
        actor=f"user:{user_id}" if user_id else "system:cli",
        action=action,
        object_type="line",
        object_id=line.id,
        details=details,
        clock=clock,
    )


def set_restriction(
    session: Session,
    line: Line,
    *,
    voice: Iterable[str],
    sms: Iterable[str],
    request_ref: str,
    requested_on: date,
    user_id: int | None,
    cipher: Cipher,
    clock: Clock,
) -> LineRestriction:
    """Limit the line's calls and SMS to these numbers, at the parquet's request (audited)."""
    ref = _check_request(request_ref, requested_on, clock=clock)
    allow = AllowList(
        voice=parse_numbers(voice, Channel.VOICE), sms=parse_numbers(sms, Channel.SMS)
    )
    if line.msisdn in allow.voice | allow.sms:
        raise ValidationError(N_("La ligne elle-même n'a pas à figurer dans sa liste."))
    now = clock.now()
    _supersede(session, line.id, now)
    key_id = ensure_line_key(session, line, cipher=cipher, clock=clock)
    version = _add_version(
        session,
        line,
        restricted=True,
        request_ref=ref,
        requested_on=requested_on,
        user_id=user_id,
        now=now,
        data_key_id=key_id,
        voice_count=len(allow.voice),
        sms_count=len(allow.sms),
    )
    vault.put_json(session, cipher, version, "numbers_enc", allow.as_json(), key_id=key_id)
    session.flush()
    _audit(
        session,
        line,
        "line.restriction_set",
        {"version": version.id, "voice": version.voice_count, "sms": version.sms_count},
        user_id=user_id,
        clock=clock,
    )
    log.info(
        "line=%s restriction set (voice=%s sms=%s)", line.id, version.voice_count, version.sms_count
    )
    return version


def lift_restriction(
    session: Session,
    line: Line,
    *,
    request_ref: str,
    requested_on: date,
    user_id: int | None,
    clock: Clock,
) -> LineRestriction:
    """Lift the line's restriction at the parquet's request (audited, kept in the history)."""
    ref = _check_request(request_ref, requested_on, clock=clock)
    if current_restriction(session, line) is None:
        raise Conflict(N_("Cette ligne n'a pas de restriction d'appel en vigueur."))
    now = clock.now()
    _supersede(session, line.id, now)
    version = _add_version(
        session,
        line,
        restricted=False,
        request_ref=ref,
        requested_on=requested_on,
        user_id=user_id,
        now=now,
    )
    _audit(
        session,
        line,
        "line.restriction_lift",
        {"version": version.id},
        user_id=user_id,
        clock=clock,
    )
    return version


def history(session: Session, line: Line) -> list[LineRestriction]:
    """Return every version of the line's restriction, newest first."""
    return list(
        session.scalars(
            select(LineRestriction)
            .where(LineRestriction.line_id == line.id)
            .order_by(LineRestriction.id.desc())
        )
    )


def list_lines(
    session: Session, *, juridiction_ids: frozenset[int] | None = None
) -> list[RestrictionView]:
    """List the lines with their restriction in force (counts only)."""
    query = (
        select(Line, LineAssignment.reference, LineAssignment.id)
        .outerjoin(
            LineAssignment,
            (LineAssignment.line_id == Line.id) & LineAssignment.is_current.is_(True),
        )
        .order_by(LineAssignment.reference, Line.id)
    )
    if juridiction_ids is not None:
        query = query.where(Line.juridiction_id.in_(juridiction_ids))
    in_force = {
        r.line_id: r
        for r in session.scalars(
            select(LineRestriction).where(
                LineRestriction.superseded_at.is_(None), LineRestriction.is_restricted.is_(True)
            )
        )
    }
    views = []
    for line, reference, assignment_id in session.execute(query):
        version = in_force.get(line.id)
        if version is not None and version.assignment_id != assignment_id:
            version = None
        views.append(RestrictionView(line.id, reference, line.msisdn, line.juridiction_id, version))
    return views


# --- the carrier's file ----------------------------------------------------------------------


def centre_numbers(
    gateway: GatewaySettings, restrictions: RestrictionSettings, counter_call_number: str
) -> frozenset[str]:
    """Return every number of the centre: never a third party, always reachable."""
    numbers = (
        gateway.alert_number,
        gateway.test_call_number,
        counter_call_number,
        *restrictions.centre_numbers,
    )
    return frozenset(n.strip() for n in numbers if n and n.strip())


def carrier_rows(
    session: Session,
    *,
    cipher: Cipher,
    gateway: GatewaySettings,
    restrictions: RestrictionSettings,
) -> list[tuple[str, ...]]:
    """Return the carrier's list: for each restricted line, the centre's numbers then its own."""
    centre = [(gateway.alert_number, "1", "1")]  # alerts and position SMS
    if gateway.test_call_number:
        centre.append((gateway.test_call_number, "1", "0"))
    centre += [(n, "1", "1") for n in restrictions.centre_numbers if n.strip()]
    rows: list[tuple[str, ...]] = []
    for view in list_lines(session):
        version = view.restriction
        if version is None:
            continue
        since = version.created_at.astimezone(UTC).replace(microsecond=0).isoformat()
        since = since.replace("+00:00", "Z")
        for number, voice, sms in centre:
            rows.append((view.msisdn, number, voice, sms, "centre", since))
        allow = read_version(session, version, cipher=cipher)
        for number in sorted(allow.voice | allow.sms):
            voice = "1" if number in allow.voice else "0"
            sms = "1" if number in allow.sms else "0"
            rows.append((view.msisdn, number, voice, sms, "liste", since))
    return rows


def carrier_csv(rows: Sequence[tuple[str, ...]]) -> str:
    """Return the carrier's CSV (RFC 4180, UTF-8, comma, header line; docs/lines.md)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(rows)
    return buffer.getvalue()


# --- the gateway -----------------------------------------------------------------------------


def route_outgoing_call(
    session: Session,
    call: IncomingCall,
    *,
    gateway: GatewaySettings,
    restrictions: RestrictionSettings,
    centre: frozenset[str],
    cipher: Cipher,
    clock: Clock,
) -> CallRoute | None:
    """Route a terminal's call to a third party; None when it is not one (then: an alert)."""
    line, _, _ = identify(session, call.from_number)
    if line is None:
        return None  # an unknown caller is an alert, whatever it dialled
    decision = decide(
        allow_list_of(session, line, cipher=cipher),
        call.to_number,
        Channel.VOICE,
        centre_numbers=centre,
    )
    log.info("outgoing call line=%s decision=%s", line.id, decision.value)
    if decision.is_allowed and call.to_number:
        return CallRoute(dial=call.to_number, caller_id=_sender(line, gateway, restrictions))
    # Refused: non-compliant use, answered by the centre as an alert (the person may be in
    # danger); the operator qualifies it, report table 9 counts it.
    alert = open_alert(
        session, call, kind=CallKind.ALERT, cipher=cipher, clock=clock, refused=Channel.VOICE
    )
    return CallRoute(conference=alert.conference_name, alert_id=alert.id)


def route_outgoing_sms(
    session: Session,
    *,
    message_sid: str,
    from_number: str | None,
    to_number: str | None,
    gateway: GatewaySettings,
    restrictions: RestrictionSettings,
    counter_call_number: str,
    cipher: Cipher,
    clock: Clock,
) -> SmsRoute | None:
    """Route a terminal's SMS to a third party; None when it is for the centre (a position)."""
    centre = centre_numbers(gateway, restrictions, counter_call_number)
    if not restrictions.gateway_outbound or to_number is None or to_number in centre:
        return None
    line, _, _ = identify(session, from_number)
    if line is None:
        log.warning("SMS from an unknown number to a third party: not delivered")
        return SmsRoute(relay_to=None)
    decision = decide(
        allow_list_of(session, line, cipher=cipher), to_number, Channel.SMS, centre_numbers=centre
    )
    log.info("outgoing SMS line=%s decision=%s", line.id, decision.value)
    if decision.is_allowed:
        # E-03: a repeated delivery is not sent twice; the receipt keeps no text of the SMS.
        _, first = answer_once(session, f"sms-relay:{message_sid}"[:160], lambda: "", clock=clock)
        if not first:
            return SmsRoute(relay_to=None)
        return SmsRoute(relay_to=to_number, sender=_sender(line, gateway, restrictions))
    if session.scalar(select(Alert.id).where(Alert.call_sid == message_sid)) is None:
        alert = open_alert(
            session,
            IncomingCall(call_sid=message_sid, from_number=from_number, to_number=to_number),
            kind=CallKind.ALERT,
            cipher=cipher,
            clock=clock,
            refused=Channel.SMS,
        )
        # Nothing to answer: the record is closed at once; the operators see it in the history.
        alert.state, alert.closed_at, alert.ended_at = AlertState.CLOSED, clock.now(), clock.now()
        session.flush()
    return SmsRoute(relay_to=None)


def _sender(line: Line, gateway: GatewaySettings, restrictions: RestrictionSettings) -> str:
    return line.msisdn if restrictions.caller_id == "terminal" else gateway.alert_number


def refused_alerts(session: Session, line_id: int, *, limit: int = 20) -> list[Alert]:
    """Return the line's latest refused calls and SMS (non-compliant use), newest first."""
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.line_id == line_id, Alert.restricted_channel.is_not(None))
            .order_by(Alert.id.desc())
            .limit(limit)
        )
    )
