"""Navigation by role: each entry names an endpoint and the roles that see it.

An entry is shown only when its endpoint exists, so a capability appears in
the menu the day its blueprint is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, url_for
from flask_babel import lazy_gettext as _l

from tgd.domain.roles import Role


@dataclass(frozen=True)
class NavEntry:
    """One item of the main menu."""

    endpoint: str
    label: Any
    roles: frozenset[Role]


STAFF = frozenset({Role.OPERATOR, Role.SUPERVISOR})
NAV_ENTRIES = (
    NavEntry("console.index", _l("Console"), STAFF),
    NavEntry("console.supervision", _l("Supervision"), frozenset({Role.SUPERVISOR})),
    NavEntry("intake.queue", _l("Navettes reçues"), STAFF),
    NavEntry("schedules.tasks", _l("Tâches"), STAFF),
    NavEntry("schedules.breaches", _l("Délais dépassés"), frozenset({Role.SUPERVISOR})),
    NavEntry("portal.index", _l("Navettes"), frozenset({Role.PARQUET})),
    NavEntry(
        "cases.index",
        _l("Dossiers"),
        frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.PARQUET, Role.ASSOCIATION}),
    ),
    NavEntry(
        "cases.lines_index",
        _l("Lignes"),
        frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ASSOCIATION, Role.ADMINISTRATOR}),
    ),
    NavEntry(
        "faults.index",
        _l("Pannes"),
        frozenset(
            {Role.PARQUET, Role.ASSOCIATION, Role.OPERATOR, Role.SUPERVISOR, Role.ADMINISTRATOR}
        ),
    ),
    NavEntry(
        "reports.index",
        _l("Rapports"),
        frozenset({Role.COMMITTEE, Role.SUPERVISOR, Role.PARQUET}),
    ),
    NavEntry("admin.index", _l("Administration"), frozenset({Role.ADMINISTRATOR})),
    NavEntry("zones.index", _l("Zones"), frozenset({Role.ADMINISTRATOR})),
    NavEntry("lines_admin.index", _l("Parc de lignes"), frozenset({Role.ADMINISTRATOR})),
    NavEntry("restrictions.index", _l("Restrictions d'appel"), frozenset({Role.ADMINISTRATOR})),
    NavEntry("coverage.index", _l("Couverture"), frozenset({Role.ADMINISTRATOR})),
    NavEntry(
        "admin.audit_log", _l("Journal d'audit"), frozenset({Role.AUDITOR, Role.ADMINISTRATOR})
    ),
)


def entries_for(role: Role | None) -> list[dict[str, Any]]:
    """Return the menu entries the role sees, among the registered endpoints."""
    if role is None:
        return []
    views = current_app.view_functions
    return [
        {"label": e.label, "url": url_for(e.endpoint), "endpoint": e.endpoint}
        for e in NAV_ENTRIES
        if role in e.roles and e.endpoint in views
    ]


def init_app(app: Flask) -> None:
    """Expose the menu to every template."""

    @app.context_processor
    def _menu() -> dict[str, Any]:
        user = g.get("user")
        return {"nav_entries": entries_for(user.role if user else None)}
