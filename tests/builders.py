"""Small builders of test data: the few rows a test needs, instead of the whole demo.

Each builder writes one thing (and what it cannot exist without) through the services
where there is one, the models otherwise, in the session it is given; it flushes and
returns the row, and the test commits when it wants others to see it. Defaults follow
the demo's shapes (Paris, ``75056``, ``+336123400XX``) so that a test moved off the
demo keeps its references, but nothing else of the demo is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models import Alert, BeneficiaryFile, Juridiction, LineAssignment, Territory, User
from tgd.domain.alerts import AlertNature, AlertState
from tgd.domain.beneficiary import PersonalData
from tgd.domain.geography import find_commune
from tgd.domain.lifecycle import FileState, LineStatus
from tgd.domain.roles import Role
from tgd.ports import Cipher, Clock, PasswordHasher
from tgd.services import files, lines, users

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
    cipher: Cipher,
    hasher: PasswordHasher,
    clock: Clock,
) -> User:
    """Create an account (``tgd.services.users``); its password is ``PASSWORD``."""
    created, _ = users.create_user(
        session,
        username=username,
        display_name=username,
        role=role,
        password=PASSWORD,
        juridiction_insees=juridictions,
        cipher=cipher,
        hasher=hasher,
        clock=clock,
    )
    return created


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
