"""Demo data for the embedded mode (``tgd demo load``): three territories in three time zones.

Everything here is fictitious. The personal values are listed in
``DEMO_PERSONS`` so that tests can scan logs and documents for them (E-11); their
addresses' coordinates come from the demo gazetteer (``tgd/domain/gazetteer.py``),
which also feeds the offline geocoder.
Demo accounts have fixed passwords and TOTP secrets, printed by ``make run``;
loading them is refused in production.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.forces import ForceUnit, Zone
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.territories import Juridiction, Territory
from tgd.db.models.users import Organisation, OrganisationKind
from tgd.domain.alerts import ForceKind
from tgd.domain.beneficiary import Address, PersonalData
from tgd.domain.gazetteer import placed
from tgd.domain.inventory import HEADER, luhn_check_digit
from tgd.domain.lifecycle import FileState, LineStatus
from tgd.domain.roles import Role
from tgd.ports import Cipher, Clock, PasswordHasher
from tgd.services import audit, files, inventory, lines, positions, users

TERRITORIES = (
    ("75", "Paris", "Europe/Paris", "+33140000000"),
    ("974", "La Réunion", "Indian/Reunion", "+262262000000"),
    ("975", "Saint-Pierre-et-Miquelon", "America/Miquelon", "+508410000"),
)
JURIDICTIONS = (
    ("75056", "Tribunal judiciaire de Paris", "75"),
    ("97411", "Tribunal judiciaire de Saint-Denis (La Réunion)", "974"),
    ("97502", "Tribunal de première instance de Saint-Pierre", "975"),
)

# (juridiction, XX, msisdn, target status)
DEMO_LINES = (
    ("75056", 1, "+33612340001", LineStatus.AFFECTE),
    ("75056", 2, "+33612340002", LineStatus.AFFECTE),
    ("75056", 3, "+33612340003", LineStatus.MISE_EN_SERVICE),
    ("75056", 4, "+33612340004", LineStatus.RESILIATION_DEMANDEE),
    ("75056", 5, "+33612340005", LineStatus.EN_ATTENTE),
    ("75056", 6, "+33612340006", LineStatus.EN_STOCK),
    ("97411", 1, "+262692340001", LineStatus.AFFECTE),
    ("97411", 2, "+262692340002", LineStatus.EN_ATTENTE),
    ("97502", 1, "+508551001", LineStatus.AFFECTE),
    ("97502", 2, "+508551002", LineStatus.EN_STOCK),
)

DEMO_SPARES = 5  # spare handsets of the delivery note, for swaps
DEMO_MODEL = "TGD-1"
DEMO_WARRANTY_DAYS = 730  # two years from delivery


def demo_imei(n: int) -> str:
    """Return the demo handset number ``n``'s IMEI (15 digits, Luhn check digit)."""
    body = f"35693803{n:06d}"
    return body + str(luhn_check_digit(body))


def demo_iccid(n: int) -> str:
    """Return the demo SIM number ``n``'s ICCID (19 digits: 18 and the Luhn check digit)."""
    body = f"893315031900{n:06d}"
    return body + str(luhn_check_digit(body))


def demo_delivery_note(today: date) -> bytes:
    """Return the supplier's delivery note of the demo: one kit per line, then spare handsets."""
    warranty = (today + timedelta(days=DEMO_WARRANTY_DAYS)).isoformat()
    rows = [",".join(HEADER)]
    for index, (_insee, _order, msisdn, _status) in enumerate(DEMO_LINES, start=1):
        rows.append(f"{demo_imei(index)},{demo_iccid(index)},{msisdn},{DEMO_MODEL},{warranty}")
    for spare in range(1, DEMO_SPARES + 1):
        rows.append(f"{demo_imei(100 + spare)},,,{DEMO_MODEL},{warranty}")
    return ("\n".join(rows) + "\n").encode()


LIFECYCLE_PATH = (
    LineStatus.EN_ATTENTE,
    LineStatus.MISE_EN_SERVICE,
    LineStatus.AFFECTE,
    LineStatus.RESILIATION_DEMANDEE,
)

DEMO_PERSONS: dict[str, PersonalData] = {
    "+33612340001": PersonalData(
        last_name="Lefebvre-Démo",
        first_name="Camille",
        birth_date=date(1987, 4, 12),
        residence=placed(Address("12 rue des Tilleuls-Démo", "75011", "Paris")),
        workplace=placed(Address("40 avenue des Érables-Démo", "75012", "Paris")),
        workplace_hours="lun–ven 9h–17h",
        other_phones=("+33698760001",),
        magistrate="Mme la substitute Duval-Démo",
        association_contact="Mme Perrin-Démo, référente",
        remarks="Auteur des violences domicilié à Créteil ; ordonnance de protection en cours.",
    ),
    "+33612340002": PersonalData(
        last_name="Moreau-Démo",
        first_name="Inès",
        birth_date=date(1979, 11, 3),
        residence=placed(Address("7 impasse du Verger-Démo", "75020", "Paris")),
        other_phones=("+33698760002", "+33145670002"),
        magistrate="M. le substitut Garnier-Démo",
    ),
    "+33612340003": PersonalData(
        last_name="Nguyen-Démo",
        first_name="Sarah",
        residence=placed(Address("3 place des Ormes-Démo", "75010", "Paris")),
    ),
    "+33612340004": PersonalData(
        last_name="Bernard-Démo",
        first_name="Julie",
        residence=placed(Address("22 rue du Chêne-Démo", "75015", "Paris")),
    ),
    "+262692340001": PersonalData(
        last_name="Payet-Démo",
        first_name="Nathalie",
        birth_date=date(1990, 2, 28),
        residence=placed(Address("5 chemin des Letchis-Démo", "97400", "Saint-Denis")),
        other_phones=("+262692760001",),
        magistrate="Mme la procureure adjointe Hoarau-Démo",
    ),
    "+508551001": PersonalData(
        last_name="Detcheverry-Démo",
        first_name="Marie",
        residence=placed(Address("9 rue du Port-Démo", "97500", "Saint-Pierre")),
        other_phones=("+508551901",),
    ),
}


def _square(lon: float, lat: float, half: float) -> str:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


# (territory, kind, name, priority number, zone centre lon, lat, half-size in degrees)
DEMO_UNITS = (
    (
        "75",
        ForceKind.POLICE,
        "Commissariat central du 11e arrondissement",
        "+33140001111",
        2.380,
        48.859,
        0.012,
    ),
    (
        "75",
        ForceKind.POLICE,
        "Préfecture de police — salle de commandement",
        "+33140002222",
        2.345,
        48.857,
        0.090,
    ),
    (
        "974",
        ForceKind.POLICE,
        "Commissariat de Saint-Denis",
        "+262262003333",
        55.450,
        -20.890,
        0.040,
    ),
    (
        "974",
        ForceKind.GENDARMERIE,
        "Gendarmerie — COG de La Réunion",
        "+262262004444",
        55.530,
        -21.130,
        0.350,
    ),
    (
        "975",
        ForceKind.GENDARMERIE,
        "Gendarmerie de Saint-Pierre-et-Miquelon",
        "+508410555",
        -56.250,
        46.900,
        0.300,
    ),
)


@dataclass(frozen=True)
class DemoAccount:
    """A demo login printed for the person trying the platform."""

    username: str
    role: Role
    password: str
    totp_secret: str
    juridictions: tuple[str, ...]


def _demo_secret(username: str) -> str:
    return base64.b32encode(f"tgd-demo-{username}".encode().ljust(20, b"-")[:20]).decode()


DEMO_ACCOUNTS = tuple(
    DemoAccount(username, role, password, _demo_secret(username), juridictions)
    for username, role, password, juridictions in (
        ("operateur", Role.OPERATOR, "Demo-Operateur-2026", ()),
        ("superviseur", Role.SUPERVISOR, "Demo-Superviseur-2026", ()),
        ("parquet.paris", Role.PARQUET, "Demo-Parquet-2026", ("75056",)),
        ("parquet.reunion", Role.PARQUET, "Demo-Parquet-2026", ("97411",)),
        ("association", Role.ASSOCIATION, "Demo-Association-2026", ("75056",)),
        ("comite", Role.COMMITTEE, "Demo-Comite-2026", ("75056",)),
        ("admin", Role.ADMINISTRATOR, "Demo-Admin-2026", ()),
        ("auditeur", Role.AUDITOR, "Demo-Auditeur-2026", ()),
    )
)

DISPLAY_NAMES = {
    "operateur": "Opérateur démo",
    "superviseur": "Superviseure démo",
    "parquet.paris": "Parquet de Paris (démo)",
    "parquet.reunion": "Parquet de Saint-Denis (démo)",
    "association": "Association Paris (démo)",
    "comite": "Comité de suivi 75 (démo)",
    "admin": "Administrateur démo",
    "auditeur": "Auditeur démo",
}


# R-24d: the demo operators' audio lines (fiction range): claiming an alert dials them.
DEMO_AUDIO_LINES = {"operateur": "+33199001001", "superviseur": "+33199001002"}


def is_loaded(session: Session) -> bool:
    """Tell whether the demo data is already there."""
    return session.scalar(select(Territory.id).where(Territory.code == "75")) is not None


def load_demo(session: Session, *, cipher: Cipher, hasher: PasswordHasher, clock: Clock) -> None:
    """Create the demo territories, lines, files, forces and accounts in one transaction."""
    territories = {
        code: Territory(
            code=code, name=name, timezone=tz, backup_number=backup, created_at=clock.now()
        )
        for code, name, tz, backup in TERRITORIES
    }
    session.add_all(territories.values())
    juridictions = {
        insee: Juridiction(insee=insee, name=name, territory=territories[t], created_at=clock.now())
        for insee, name, t in JURIDICTIONS
    }
    session.add_all(juridictions.values())
    orgs = _organisations(session, juridictions, clock=clock)
    session.flush()
    _units(session, territories, clock=clock)
    # The supplier's delivery note: each line takes its SIM (by number) and the handset it
    # came in from stock; the spare handsets stay in stock for swaps.
    inventory.import_delivery(
        session,
        demo_delivery_note(clock.now().date()),
        filename="bordereau-demo.csv",
        actor="system:demo",
        clock=clock,
    )
    for insee, order_no, msisdn, target in DEMO_LINES:
        record = lines.add_line(
            session, juridiction=juridictions[insee], order_no=order_no, msisdn=msisdn, clock=clock
        )
        _walk_to(session, record, target, clock=clock)
        person = DEMO_PERSONS.get(msisdn)
        if person is not None:
            file = files.open_file(
                session,
                assignment=record,
                personal=person,
                association_id=orgs.get(insee),
                cipher=cipher,
                clock=clock,
            )
            _file_state_for(file, target, clock=clock)
    for account in DEMO_ACCOUNTS:
        user, _ = users.create_user(
            session,
            username=account.username,
            display_name=DISPLAY_NAMES[account.username],
            role=account.role,
            password=account.password,
            juridiction_insees=account.juridictions,
            totp_secret=account.totp_secret,
            actor="system:demo",
            cipher=cipher,
            hasher=hasher,
            clock=clock,
        )
        user.audio_line = DEMO_AUDIO_LINES.get(account.username)
        audit.record(
            session,
            actor="system:demo",
            action="user.create",
            object_type="user",
            object_id=user.id,
            details={"role": account.role.value},
            clock=clock,
        )
    _terminal_credentials(session, cipher=cipher, clock=clock)
    audit.record(
        session,
        actor="system:demo",
        action="demo.load",
        details={"lines": len(DEMO_LINES)},
        clock=clock,
    )
    session.flush()


def _terminal_credentials(session: Session, *, cipher: Cipher, clock: Clock) -> None:
    """Give every demo line its HTTPS position secret (R-54); ``tgd simulate position`` uses it."""
    for line in session.scalars(select(Line).order_by(Line.id)):
        positions.issue_credential(session, line, cipher=cipher, clock=clock)


def _organisations(
    session: Session, juridictions: dict[str, Juridiction], *, clock: Clock
) -> dict[str, int]:
    associations: dict[str, Organisation] = {}
    for insee, jur in juridictions.items():
        parquet = Organisation(
            kind=OrganisationKind.PARQUET, name=f"Parquet — {jur.name}", created_at=clock.now()
        )
        parquet.juridictions = [jur]
        assoc = Organisation(
            kind=OrganisationKind.ASSOCIATION,
            name=f"Association d'aide aux victimes (démo) — {jur.territory.name}",
            phone=jur.territory.backup_number,
            created_at=clock.now(),
        )
        assoc.juridictions = [jur]
        session.add_all([parquet, assoc])
        associations[insee] = assoc
    session.flush()
    return {insee: org.id for insee, org in associations.items()}


def _units(session: Session, territories: dict[str, Territory], *, clock: Clock) -> None:
    for code, kind, name, number, lon, lat, half in DEMO_UNITS:
        unit = ForceUnit(
            territory=territories[code],
            kind=kind,
            name=name,
            priority_number=number,
            callback_number=number,
            created_at=clock.now(),
        )
        unit.zones = [Zone(geometry_geojson=_square(lon, lat, half), valid_from=clock.now())]
        session.add(unit)


def _walk_to(session: Session, record: LineAssignment, target: LineStatus, *, clock: Clock) -> None:
    for status in LIFECYCLE_PATH:
        if record.status == target:
            return
        lines.change_status(session, record, status, user_id=None, clock=clock)


def _file_state_for(file: object, target: LineStatus, *, clock: Clock) -> None:
    from tgd.db.models.beneficiaries import BeneficiaryFile

    assert isinstance(file, BeneficiaryFile)
    if target in (LineStatus.AFFECTE, LineStatus.RESILIATION_DEMANDEE):
        file.state = FileState.ATTRIBUE
        file.commissioned_at = clock.now() - timedelta(days=30)
        file.last_test_call_at = clock.now() - timedelta(days=3)
    if target is LineStatus.RESILIATION_DEMANDEE:
        file.state = FileState.RESILIATION_DEMANDEE
        file.termination_requested_at = clock.now() - timedelta(hours=2)
