"""Where a file's addresses are (R-25): marked when written, geocoded after, corrected by hand.

Geocoding is network I/O, so it never happens inside a write transaction:

1. when a file is opened or a new version changes an address (``files``), the
   address is marked ``pending`` in the same transaction (``mark_addresses``);
2. the ``geocoding`` job (every 30 s, catch-up style) reads what is pending in a
   read-only session, asks the geocoder outside any transaction, then stores each
   answer in a short write transaction of its own (``geocode_pending``) — unless the
   address changed meanwhile (the row's version moved on), in which case the answer
   is dropped and the new address waits its turn; files older than this feature are
   marked by the same job (``mark_missing``);
3. an operator who sees a wrong match on the map places the point by hand
   (``correct``, audited by the door); it stays until the address changes.

The point and the label the geocoder matched are encrypted with the file's key;
the match type and score (not personal) say how far the point can be trusted
(``tgd.domain.geocoding.quality``), and the console shows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from tgd.adapters.crypto import CryptoError
from tgd.db.models.beneficiaries import BeneficiaryFile, FileGeocode
from tgd.db.models.users import User
from tgd.db.writes import write_transaction
from tgd.domain.beneficiary import Address, PersonalData
from tgd.domain.errors import N_, Conflict, ValidationError
from tgd.domain.geocoding import (
    GeocodeMatch,
    MatchKind,
    Quality,
    checked_point,
    quality,
)
from tgd.domain.lifecycle import FileState
from tgd.ports import Cipher, Clock, Geocoder, GeocoderUnavailable
from tgd.services import audit, files, vault

log = logging.getLogger(__name__)

PLACES = ("residence", "workplace")
PENDING, FOUND, NOT_FOUND, MANUAL, EMPTY = "pending", "found", "not_found", "manual", "empty"
MAX_ATTEMPTS = 20  # an address the geocoder keeps failing on stops being retried
LIVE_STATES = (FileState.EN_CREATION, FileState.ATTRIBUE, FileState.RESILIATION_DEMANDEE)


@dataclass(frozen=True)
class PlacePoint:
    """An address's point as the console and the file page show it."""

    place: str
    status: str
    lat: float | None
    lon: float | None
    kind: MatchKind | None
    score: float | None
    label: str
    quality: Quality | None

    @property
    def point(self) -> tuple[float, float] | None:
        """The point, when there is one."""
        return (self.lat, self.lon) if self.lat is not None and self.lon is not None else None


@dataclass(frozen=True)
class GeocodeRun:
    """What one run of the geocoding job did."""

    marked: int = 0
    found: int = 0
    not_found: int = 0
    unavailable: int = 0
    superseded: int = 0


def _same_place(a: Address, b: Address) -> bool:
    return (a.line, a.postcode, a.city) == (b.line, b.postcode, b.city)


def mark_addresses(
    session: Session,
    file: BeneficiaryFile,
    personal: PersonalData,
    *,
    previous: PersonalData | None,
    version_no: int,
    cipher: Cipher,
    clock: Clock,
) -> list[str]:
    """Mark the file's new or changed addresses for geocoding (in the writer's transaction)."""
    marked = []
    rows = {
        r.place: r
        for r in session.scalars(select(FileGeocode).where(FileGeocode.file_id == file.id))
    }
    for place in PLACES:
        address: Address = getattr(personal, place)
        row = rows.get(place)
        if (
            row is not None
            and previous is not None
            and _same_place(address, getattr(previous, place))
        ):
            continue  # unchanged: the point (or a hand correction) stays
        if row is None:
            row = FileGeocode(file_id=file.id, place=place, status=PENDING, version_no=version_no)
            session.add(row)
        row.version_no, row.attempts, row.updated_at = version_no, 0, clock.now()
        row.point_enc, row.match_type, row.score, row.corrected_by_id = None, None, None, None
        if address.is_empty:
            row.status = EMPTY
        elif address.lat is not None and address.lon is not None:
            # Coordinates written on the file itself (demo data): nothing to ask.
            _store(
                session, row, file, GeocodeMatch(address.lat, address.lon, MatchKind.GIVEN), cipher
            )
            row.status = FOUND
        else:
            row.status = PENDING
            marked.append(place)
    session.flush()
    return marked


def _store(
    session: Session, row: FileGeocode, file: BeneficiaryFile, match: GeocodeMatch, cipher: Cipher
) -> None:
    assert file.data_key_id is not None
    session.flush()
    vault.put_json(session, cipher, row, "point_enc", match.to_dict(), key_id=file.data_key_id)
    row.match_type, row.score = match.kind.value, match.score


def mark_missing(session: Session, *, cipher: Cipher, clock: Clock, limit: int = 200) -> int:
    """Mark the addresses of live files that were never geocoded (files older than this)."""
    files_without = session.scalars(
        select(BeneficiaryFile)
        .where(
            BeneficiaryFile.state.in_(LIVE_STATES),
            BeneficiaryFile.data_key_id.is_not(None),
            ~exists().where(FileGeocode.file_id == BeneficiaryFile.id),
        )
        .order_by(BeneficiaryFile.id)
        .limit(limit)
    ).all()
    for file in files_without:
        personal = files.read_personal(session, file, cipher=cipher)
        version = files.current_version(session, file)
        mark_addresses(
            session,
            file,
            personal,
            previous=None,
            version_no=version.version_no,
            cipher=cipher,
            clock=clock,
        )
    return len(files_without)


def geocode_pending(
    sessions: sessionmaker[Session],
    *,
    geocoder: Geocoder,
    cipher: Cipher,
    clock: Clock,
    limit: int = 50,
) -> GeocodeRun:
    """Geocode what is pending: read, ask (outside any transaction), store (short writes)."""
    with sessions() as reader:  # read-only: the addresses to ask about
        todo: list[tuple[int, int, str]] = []
        rows = reader.scalars(
            select(FileGeocode)
            .where(FileGeocode.status == PENDING, FileGeocode.attempts < MAX_ATTEMPTS)
            .order_by(FileGeocode.updated_at, FileGeocode.id)
            .limit(limit)
        ).all()
        for row in rows:
            file = reader.get(BeneficiaryFile, row.file_id)
            if file is None or file.data_key_id is None:
                continue
            try:
                personal = files.read_personal(reader, file, cipher=cipher)
            except CryptoError:
                continue
            address: Address = getattr(personal, row.place)
            todo.append((row.id, row.version_no, address.one_line()))
    found = not_found = unavailable = superseded = 0
    for row_id, version_no, text in todo:
        try:
            match = geocoder.geocode(text)  # network I/O: no transaction is open
        except GeocoderUnavailable:
            match, unavailable = None, unavailable + 1
            failed = True
        else:
            failed = False
        with write_transaction(sessions) as session:
            target = session.get(FileGeocode, row_id)
            if target is None or target.status != PENDING or target.version_no != version_no:
                superseded += 1  # the address changed meanwhile: its new version waits its turn
                continue
            target.updated_at = clock.now()
            if failed:
                target.attempts += 1  # tried again at the next run
                continue
            file = session.get(BeneficiaryFile, target.file_id)
            if file is None or file.data_key_id is None:
                continue
            if match is None:
                target.status = NOT_FOUND
                not_found += 1
            else:
                _store(session, target, file, match, cipher)
                target.status = FOUND
                found += 1
            log.info(
                "geocode file=%s place=%s status=%s type=%s",
                target.file_id,
                target.place,
                target.status,
                target.match_type,
            )
    return GeocodeRun(
        found=found, not_found=not_found, unavailable=unavailable, superseded=superseded
    )


def points_of(session: Session, file: BeneficiaryFile, *, cipher: Cipher) -> dict[str, PlacePoint]:
    """Return the file's points by place, decrypted, with their quality."""
    result: dict[str, PlacePoint] = {}
    for row in session.scalars(select(FileGeocode).where(FileGeocode.file_id == file.id)):
        data: dict[str, Any] = {}
        if row.point_enc is not None:
            try:
                data = (
                    vault.get_json(session, cipher, row, "point_enc", key_id=file.data_key_id) or {}
                )
            except CryptoError:
                data = {}
        kind = MatchKind(row.match_type) if row.match_type else None
        result[row.place] = PlacePoint(
            place=row.place,
            status=row.status,
            lat=float(data["lat"]) if "lat" in data else None,
            lon=float(data["lon"]) if "lon" in data else None,
            kind=kind,
            score=row.score,
            label=str(data.get("label") or ""),
            quality=quality(kind, row.score) if kind is not None and data else None,
        )
    return result


def correct(
    session: Session,
    file: BeneficiaryFile,
    place: str,
    *,
    lat: Any,
    lon: Any,
    user: User,
    cipher: Cipher,
    clock: Clock,
) -> FileGeocode:
    """An operator places an address's point on the map (a wrong or missing match); audited."""
    if place not in PLACES:
        raise ValidationError(N_("Lieu inconnu : domicile ou lieu de travail attendu."))
    if file.data_key_id is None or file.state not in LIVE_STATES:
        raise Conflict(N_("Cette fiche n'est plus active : sa position ne se corrige plus."))
    point = checked_point(lat, lon)
    personal = files.read_personal(session, file, cipher=cipher)
    address: Address = getattr(personal, place)
    if address.is_empty:
        raise ValidationError(N_("La fiche n'a pas d'adresse à cet endroit."))
    row = session.scalar(
        select(FileGeocode).where(FileGeocode.file_id == file.id, FileGeocode.place == place)
    )
    if row is None:
        version = files.current_version(session, file)
        row = FileGeocode(
            file_id=file.id, place=place, status=MANUAL, version_no=version.version_no
        )
        session.add(row)
    match = GeocodeMatch(point[0], point[1], MatchKind.MANUAL, None, address.one_line())
    _store(session, row, file, match, cipher)
    row.status, row.corrected_by_id, row.updated_at = MANUAL, user.id, clock.now()
    session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="file.geocode_correct",
        object_type="file",
        object_id=file.id,
        details={"place": place},
        clock=clock,
    )
    return row
