"""Which juridictions a report covers, and whether the asking user may have it (R-51).

A committee member gets anonymized reports on its own juridictions only; a
parquet the same, plus the nominative annex; a supervisor any scope, never
nominative. A scope the user may not have is refused before anything is read.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.territories import Juridiction, Territory
from tgd.db.models.users import User
from tgd.domain.errors import N_, Forbidden, NotFound, ValidationError
from tgd.services import policy
from tgd.services.policy import Permission
from tgd.services.reports.model import Scope
from tgd.settings import NATIONAL_TIMEZONE  # the national roll-up reads the capital's calendar


def resolve_scope(
    session: Session,
    *,
    juridiction: str | None = None,
    departement: str | None = None,
    national: bool = False,
) -> Scope:
    """Turn exactly one of an INSEE code, a département code or ``national`` into a scope."""
    given = [x for x in (juridiction, departement) if x] + (["national"] if national else [])
    if len(given) != 1:
        raise ValidationError(
            N_("Indiquez une seule portée : une juridiction, un département ou le national.")
        )
    if juridiction:
        found = session.scalar(select(Juridiction).where(Juridiction.insee == juridiction.strip()))
        if found is None:
            raise NotFound(N_("Juridiction inconnue : %(code)s."), code=juridiction.strip()[:8])
        return Scope(
            "juridiction",
            found.insee,
            f"{found.name} ({found.insee})",
            frozenset({found.id}),
            found.territory.timezone,
        )
    if departement:
        code = departement.strip().upper()
        territory = session.scalar(select(Territory).where(Territory.code == code))
        if territory is None:
            raise NotFound(N_("Département inconnu : %(code)s."), code=code[:4])
        ids = frozenset(
            session.scalars(select(Juridiction.id).where(Juridiction.territory_id == territory.id))
        )
        return Scope(
            "departement",
            territory.code,
            f"{territory.name} ({territory.code})",
            ids,
            territory.timezone,
        )
    ids = frozenset(session.scalars(select(Juridiction.id)))
    return Scope("national", "national", "France entière", ids, NATIONAL_TIMEZONE)


def authorize(user: User, scope: Scope, *, nominative: bool) -> None:
    """Refuse a scope or a nominative annex the user's role does not allow (R-51)."""
    policy.require(user, Permission.REPORT_ANONYMOUS)
    if nominative:
        policy.require(user, Permission.REPORT_NOMINATIVE)
    allowed = policy.juridiction_scope(user)
    if allowed is None:
        return
    if scope.is_national or not scope.juridiction_ids or not scope.juridiction_ids <= allowed:
        raise Forbidden(N_("Ce périmètre de rapport ne fait pas partie de vos juridictions."))


def scopes_for(session: Session, user: User) -> list[Scope]:
    """Return the scopes a user may choose on the reports page."""
    allowed = policy.juridiction_scope(user)
    query = select(Juridiction).order_by(Juridiction.insee)
    if allowed is not None:
        query = query.where(Juridiction.id.in_(allowed))
    scopes = [
        Scope(
            "juridiction", j.insee, f"{j.name} ({j.insee})", frozenset({j.id}), j.territory.timezone
        )
        for j in session.scalars(query)
    ]
    if allowed is None:
        for territory in session.scalars(select(Territory).order_by(Territory.code)):
            scopes.append(resolve_scope(session, departement=territory.code))
        scopes.append(resolve_scope(session, national=True))
    return scopes
