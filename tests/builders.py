"""Small builders of test data: the few rows a test needs, instead of the whole demo.

Each builder writes one thing (and what it cannot exist without) through the services
where there is one, the models otherwise, in the session it is given; it flushes and
returns the row, and the test commits when it wants others to see it. Defaults follow
the demo's shapes (Paris, ``75056``, ``+336123400XX``) so that a test moved off the
demo keeps its references, but nothing else of the demo is there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tgd.db.models import (
    Alert,
    BeneficiaryFile,
    Delivery,
    ForceUnit,
    Juridiction,
    LineAssignment,
    Organisation,
    OrganisationKind,
    Terminal,
    Territory,
    User,
    Zone,
)
from tgd.domain.alerts import AlertNature, AlertState, ForceKind
from tgd.domain.beneficiary import PersonalData
from tgd.domain.geography import find_commune
from tgd.domain.inventory import HEADER, luhn_check_digit
from tgd.domain.lifecycle import FileState, LineStatus
from tgd.domain.roles import Role
from tgd.ports import Cipher, Clock, PasswordHasher
from tgd.services import files, inventory, lines, users

# Territory code -> name, IANA time zone, backup number (as in the demo).
TERRITORIES = {
    "75": ("Paris", "Europe/Paris", "+33140000000"),
    "974": ("La Réunion", "Indian/Reunion", "+262262000000"),
    "975": ("Saint-Pierre-et-Miquelon", "America/Miquelon", "+508410000"),
}
# The order a line's status goes through from stock.
LINE_PATH = (
    LineStatus.EN_ATTENTE,
    LineStatus.MISE_EN_SERVICE,
    LineStatus.AFFECTE,
    LineStatus.RESILIATION_DEMANDEE,
)
PASSWORD = "Builder-Password-2026"
TOTP_SECRET = "BUILDERSECRETTOTPBUILDERSECRET23"  # every built account's (base32)
HANDSET_MODEL = "TGD-1"  # the demo's model


def territory(session: Session, *, code: str = "75", clock: Clock) -> Territory:
    """Return the territory ``code`` (one of ``TERRITORIES``), created if it is not there."""
    found = session.scalars(select(Territory).where(Territory.code == code)).one_or_none()
    if found is not None:
        return found
    name, timezone, backup = TERRITORIES[code]
    created = Territory(
        code=code, name=name, timezone=timezone, backup_number=backup, created_at=clock.now()
    )
    session.add(created)
    session.flush()
    return created


def juridiction(session: Session, *, insee: str = "75056", clock: Clock) -> Juridiction:
    """Return the juridiction of commune ``insee``, with its territory and time zone."""
    found = session.scalars(select(Juridiction).where(Juridiction.insee == insee)).one_or_none()
    if found is not None:
        return found
    commune = find_commune(insee)
    assert commune is not None, f"no commune {insee}"
    created = Juridiction(
        insee=insee,
        name=f"Tribunal judiciaire de {commune.name}",
        territory=territory(session, code=commune.departement, clock=clock),
        created_at=clock.now(),
    )
    session.add(created)
    session.flush()
    return created


def line(
    session: Session,
    *,
    juridiction: Juridiction,
    order_no: int = 1,
    msisdn: str | None = None,
    status: LineStatus = LineStatus.EN_STOCK,
    clock: Clock,
) -> LineAssignment:
    """Put a line in stock (``tgd.services.lines``) and walk it to ``status``."""
    record = lines.add_line(
        session,
        juridiction=juridiction,
        order_no=order_no,
        msisdn=msisdn or f"+336123400{order_no:02d}",
        clock=clock,
    )
    for step in LINE_PATH:
        if record.status == status:
            break
        lines.change_status(session, record, step, user_id=None, clock=clock)
    assert record.status == status, f"{status} is not on the path from stock"
    session.flush()
    return record


def user(
    session: Session,
    *,
    username: str = "operateur",
    role: Role = Role.OPERATOR,
    juridictions: Sequence[str] = (),
    enrolled: bool = False,
    cipher: Cipher,
    hasher: PasswordHasher,
    clock: Clock,
) -> User:
    """Create an account (``tgd.services.users``): password ``PASSWORD``, TOTP ``TOTP_SECRET``.

    ``enrolled``: its TOTP secret counts as enrolled, so a login asks for a code.
    """
    created, _ = users.create_user(
        session,
        username=username,
        display_name=username,
        role=role,
        password=PASSWORD,
        juridiction_insees=juridictions,
        totp_secret=TOTP_SECRET,
        actor="system:test",
        cipher=cipher,
        hasher=hasher,
        clock=clock,
    )
    if enrolled:
        users.mark_enrolled(session, [created.username], clock=clock)
    return created


# The accounts most tests log in or record steps with: (username, role, court INSEE codes).
PARQUET_AND_OPERATOR = (
    ("parquet.paris", Role.PARQUET, ("75056",)),
    ("operateur", Role.OPERATOR, ()),
)


def users_of(
    session: Session,
    accounts: Sequence[tuple[str, Role, Sequence[str]]],
    *,
    cipher: Cipher,
    hasher: PasswordHasher,
    clock: Clock,
) -> list[User]:
    """Create these accounts (``user`` for each: username, role, courts)."""
    return [
        user(
            session,
            username=username,
            role=role,
            juridictions=courts,
            cipher=cipher,
            hasher=hasher,
            clock=clock,
        )
        for username, role, courts in accounts
    ]


def beneficiary_file(
    session: Session,
    *,
    assignment: LineAssignment,
    personal: PersonalData | None = None,
    cipher: Cipher,
    clock: Clock,
) -> BeneficiaryFile:
    """Open a file on a line (``tgd.services.files``), attributed when the line is."""
    file = files.open_file(
        session,
        assignment=assignment,
        personal=personal or PersonalData(last_name="Martin-Test", first_name="Claire"),
        cipher=cipher,
        clock=clock,
    )
    if assignment.status in (LineStatus.AFFECTE, LineStatus.RESILIATION_DEMANDEE):
        file.state = FileState.ATTRIBUE
        file.commissioned_at = clock.now() - timedelta(days=30)
    session.flush()
    return file


def alert(
    session: Session,
    *,
    assignment: LineAssignment,
    file: BeneficiaryFile | None = None,
    call_sid: str = "CAbuilder-1",
    state: AlertState = AlertState.RINGING,
    nature: AlertNature = AlertNature.NON_QUALIFIEE,
    ago: timedelta = timedelta(seconds=5),
    clock: Clock,
) -> Alert:
    """Record an alert from a line (and its file, if given), ringing ``ago`` before now."""
    line_ = assignment.line
    created = Alert(
        call_sid=call_sid,
        territory_id=line_.juridiction.territory_id,
        line_id=line_.id,
        assignment_id=assignment.id,
        file_id=file.id if file is not None else None,
        data_key_id=file.data_key_id if file is not None else None,
        reference=assignment.reference,
        conference_name=f"tgd-{call_sid}",
        state=state,
        nature=nature,
        ringing_at=clock.now() - ago,
        created_at=clock.now() - ago,
    )
    session.add(created)
    session.flush()
    return created


def assigned_file(
    session: Session,
    *,
    juridiction: Juridiction,
    order_no: int = 1,
    msisdn: str | None = None,
    personal: PersonalData | None = None,
    cipher: Cipher,
    clock: Clock,
) -> BeneficiaryFile:
    """A line assigned to a person (``AFFECTE``) and her file, attributed (demo: 01, 02)."""
    record = line(
        session,
        juridiction=juridiction,
        order_no=order_no,
        msisdn=msisdn,
        status=LineStatus.AFFECTE,
        clock=clock,
    )
    return beneficiary_file(
        session, assignment=record, personal=personal, cipher=cipher, clock=clock
    )


def closed_file(
    session: Session,
    *,
    juridiction: Juridiction,
    order_no: int = 4,
    closed_at: datetime,
    personal: PersonalData | None = None,
    cipher: Cipher,
    clock: Clock,
) -> BeneficiaryFile:
    """A file closed at ``closed_at``, on a line whose termination was requested (demo: 04).

    Only the file is closed, as a confirmed termination leaves it; the line's record
    stays where termination left it (destruction works on the file).
    """
    record = line(
        session,
        juridiction=juridiction,
        order_no=order_no,
        status=LineStatus.RESILIATION_DEMANDEE,
        clock=clock,
    )
    file = beneficiary_file(
        session, assignment=record, personal=personal, cipher=cipher, clock=clock
    )
    file.state, file.closed_at = FileState.CLOTURE, closed_at
    session.flush()
    return file


def organisation(
    session: Session, *, kind: OrganisationKind, juridiction: Juridiction, clock: Clock
) -> Organisation:
    """A court's parquet or victim-support association, named as in the demo."""
    if kind is OrganisationKind.PARQUET:
        name, phone = f"Parquet — {juridiction.name}", None
    else:
        name = f"Association d'aide aux victimes — {juridiction.territory.name}"
        phone = juridiction.territory.backup_number
    created = Organisation(kind=kind, name=name, phone=phone, created_at=clock.now())
    created.juridictions = [juridiction]
    session.add(created)
    session.flush()
    return created


def _numbered(prefix: str, n: int) -> str:
    body = f"{prefix}{n:06d}"
    return body + str(luhn_check_digit(body))


def delivery(
    session: Session,
    *,
    msisdns: Sequence[str] = (),
    spares: int = 0,
    warranty_end: date | None = None,
    clock: Clock,
) -> Delivery:
    """Import a delivery note (``tgd.services.inventory``): a kit per number, then spares.

    A line added afterwards with one of these numbers takes its SIM and handset from
    stock; the spare handsets stay in stock for swaps. Warranty: two years by default.
    """
    warranty = (warranty_end or clock.now().date() + timedelta(days=730)).isoformat()
    first = (session.scalar(select(func.count(Terminal.id))) or 0) + 1
    rows = [",".join(HEADER)]
    for n, msisdn in enumerate(msisdns, start=first):
        kit = f"{_numbered('35693803', n)},{_numbered('893315031900', n)},{msisdn}"
        rows.append(f"{kit},{HANDSET_MODEL},{warranty}")
    for n in range(first + len(msisdns), first + len(msisdns) + spares):
        rows.append(f"{_numbered('35693803', n)},,,{HANDSET_MODEL},{warranty}")
    note = ("\n".join(rows) + "\n").encode()
    return inventory.import_delivery(
        session, note, filename="bordereau-test.csv", actor="system:test", clock=clock
    )


def force_unit(
    session: Session,
    *,
    territory: Territory,
    name: str = "Commissariat central du 11e arrondissement",
    number: str = "+33140001111",
    kind: ForceKind = ForceKind.POLICE,
    centre: tuple[float, float] = (2.380, 48.859),
    half: float = 0.012,
    clock: Clock,
) -> ForceUnit:
    """A force unit whose zone is a square of ``half`` degrees around ``centre`` (lon, lat).

    Defaults: the demo's 11th arrondissement police station.
    """
    lon, lat = centre
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    created = ForceUnit(
        territory=territory,
        kind=kind,
        name=name,
        priority_number=number,
        callback_number=number,
        created_at=clock.now(),
    )
    created.zones = [
        Zone(
            geometry_geojson=json.dumps({"type": "Polygon", "coordinates": [ring]}),
            valid_from=clock.now(),
        )
    ]
    session.add(created)
    session.flush()
    return created
