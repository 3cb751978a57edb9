"""Authorisation (R-51): what each role may do, and on which juridictions' objects.

One table says which role holds which permission; one function says which
juridictions a user's objects must belong to. ``get_scoped`` is the only
way views fetch an object by id: outside the user's scope it answers
``NotFound`` exactly as for an id that does not exist, so a parquet user
guessing ids learns nothing about another court's cases.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.incidents import Incident
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.navettes import Navette
from tgd.db.models.users import User
from tgd.domain.errors import N_, NOT_FOUND_OR_HIDDEN, Forbidden, NotFound
from tgd.domain.roles import Role


class Permission(enum.StrEnum):
    """Things a user may do."""

    FILE_READ = "file.read"  # nominative beneficiary file
    ALERT_READ = "alert.read"  # nominative alert
    NAVETTE_READ = "navette.read"
    NAVETTE_SUBMIT = "navette.submit"
    NAVETTE_PROCESS = (
        "navette.process"  # operators: intake queue, files, commissioning (R-10..R-15)
    )
    LINE_ADMIN = "line.admin"  # stock, activation, terminal swap
    LINE_READ = "line.read"  # line, terminal, SIM (no personal data)
    CONSOLE = "console.use"
    SUPERVISE = "console.supervise"  # live board, operators connected, figures of the day
    REPORT_ANONYMOUS = "report.anonymous"
    REPORT_NOMINATIVE = "report.nominative"
    # what the centre sends the parquet (messages, the closure export).
    PARQUET_DOCUMENTS = "parquet.documents"
    AUDIT_READ = "audit.read"
    USER_ADMIN = "user.admin"
    ZONE_ADMIN = "zone.admin"
    FAULT_REPORT = "fault.report"  # parquets and associations report a faulty terminal
    FAULT_READ = "fault.read"  # follow fault tickets (of one's courts when scoped)
    FAULT_HANDLE = "fault.handle"  # the assistance centre: record calls, diagnose, swap


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset(
        {
            P.FILE_READ,
            P.ALERT_READ,
            P.NAVETTE_READ,
            P.NAVETTE_PROCESS,
            P.LINE_READ,
            P.CONSOLE,
            P.PARQUET_DOCUMENTS,
            P.FAULT_READ,
            P.FAULT_HANDLE,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            P.FILE_READ,
            P.ALERT_READ,
            P.NAVETTE_READ,
            P.NAVETTE_PROCESS,
            P.LINE_READ,
            P.CONSOLE,
            P.SUPERVISE,
            P.REPORT_ANONYMOUS,
            P.PARQUET_DOCUMENTS,
            P.FAULT_READ,
            P.FAULT_HANDLE,
        }
    ),
    # The parquet sees its own cases nominatively, and their alerts with police action.
    Role.PARQUET: frozenset(
        {
            P.FILE_READ,
            P.ALERT_READ,
            P.NAVETTE_READ,
            P.NAVETTE_SUBMIT,
            P.REPORT_ANONYMOUS,
            P.REPORT_NOMINATIVE,
            P.PARQUET_DOCUMENTS,
            P.FAULT_REPORT,
            P.FAULT_READ,
        }
    ),
    Role.ASSOCIATION: frozenset({P.FILE_READ, P.LINE_READ, P.FAULT_REPORT, P.FAULT_READ}),
    Role.COMMITTEE: frozenset({P.REPORT_ANONYMOUS}),  # anonymized data only
    Role.ADMINISTRATOR: frozenset(
        {
            P.LINE_READ,
            P.LINE_ADMIN,
            P.USER_ADMIN,
            P.ZONE_ADMIN,
            P.AUDIT_READ,
            P.FAULT_READ,
            P.FAULT_HANDLE,
        }
    ),
    Role.AUDITOR: frozenset({P.AUDIT_READ}),
}

T = TypeVar("T")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def has(user: User, permission: Permission) -> bool:
    """Tell whether the user's role holds the permission."""
    return user.is_active and role_has(user.role, permission)


def role_has(role: Role, permission: Permission) -> bool:
    """Tell whether a role holds the permission (whether its holder is active aside)."""
    return permission in ROLE_PERMISSIONS[role]


def require(user: User, permission: Permission) -> None:
    """Refuse with 403 when the role lacks the permission."""
    if not has(user, permission):
        raise Forbidden(N_("Votre rôle ne permet pas cette action."))


def juridiction_scope(user: User) -> frozenset[int] | None:
    """Return the juridiction ids the user is limited to, or None for the whole centre."""
    if not user.role.is_scoped:
        return None
    return frozenset(j.id for j in user.juridictions)


def _juridiction_column(model: type[Any]) -> Any:
    if model is BeneficiaryFile or model is Navette:
        return model.juridiction_id
    if model is Line:
        return Line.juridiction_id
    raise TypeError(f"no juridiction scope for {model.__name__}")


def scoped(query: S, user: User, model: type[Any]) -> S:
    """Restrict a query on ``model`` to the user's juridictions."""
    scope = juridiction_scope(user)
    if scope is None:
        return query
    if model is Alert:
        query = query.join(Line, Alert.line_id == Line.id)
        return query.where(Line.juridiction_id.in_(scope))
    if model is LineAssignment:
        query = query.join(Line, LineAssignment.line_id == Line.id)
        return query.where(Line.juridiction_id.in_(scope))
    if model is Incident:
        query = query.join(Line, Incident.line_id == Line.id)
        return query.where(Line.juridiction_id.in_(scope))
    return query.where(_juridiction_column(model).in_(scope))


PERMISSION_FOR: dict[type[Any], Permission] = {
    BeneficiaryFile: P.FILE_READ,
    Alert: P.ALERT_READ,
    Navette: P.NAVETTE_READ,
    Line: P.LINE_READ,
    Incident: P.FAULT_READ,
}


def get_scoped(session: Session, user: User, model: type[T], object_id: int) -> T:
    """Fetch an object the user may read, or raise ``NotFound`` (same answer as a bad id)."""
    require(user, PERMISSION_FOR[model])
    query = scoped(select(model).where(model.id == object_id), user, model)  # type: ignore[attr-defined]
    found: T | None = session.scalar(query)
    if found is None or (isinstance(found, Alert) and not may_see_alert(user, found)):
        # The same answer as a missing id (and as any 404 page): nothing leaks.
        raise NotFound(NOT_FOUND_OR_HIDDEN)
    return found


def may_see_alert(user: User, alert: Alert) -> bool:
    """Tell whether the user may see this alert of its scope (R-27 for the parquet)."""
    if not has(user, P.ALERT_READ):
        return False
    # the parquet sees nominatively only the alerts with police action.
    return user.role is not Role.PARQUET or alert.police_called_at is not None


def visible_alerts(query: S, user: User) -> S:
    """Restrict a query on alerts (already scoped to the user's courts) to those it may see.

    Lists inside pages follow the same rule as ``get_scoped``: a role without access to
    alerts sees none, the parquet only those with police action (R-27).
    """
    if not has(user, P.ALERT_READ):
        return query.where(false())
    if user.role is Role.PARQUET:
        return query.where(Alert.police_called_at.is_not(None))
    return query
