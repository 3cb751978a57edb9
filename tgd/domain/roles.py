"""Roles of DESIGN R-51 and what each kind of user is scoped to."""

from __future__ import annotations

import enum

from tgd.domain.errors import N_


class Role(enum.StrEnum):
    """A user's single role."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    PARQUET = "parquet"
    ASSOCIATION = "association"
    COMMITTEE = "committee"
    ADMINISTRATOR = "administrator"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        """Return the French label shown to users."""
        return ROLE_LABELS[self]

    @property
    def requires_second_factor(self) -> bool:
        """Tell whether login needs a TOTP code: every role that sees nominative data (R-50)."""
        return self is not Role.COMMITTEE

    @property
    def is_scoped(self) -> bool:
        """Tell whether the role only sees its own juridictions (R-51)."""
        return self in SCOPED_ROLES


ROLE_LABELS = {
    Role.OPERATOR: N_("téléassisteur"),
    Role.SUPERVISOR: N_("superviseur"),
    Role.PARQUET: N_("parquet"),
    Role.ASSOCIATION: N_("association"),
    Role.COMMITTEE: N_("comité de suivi"),
    Role.ADMINISTRATOR: N_("administrateur"),
    Role.AUDITOR: N_("auditeur"),
}

SCOPED_ROLES = frozenset({Role.PARQUET, Role.ASSOCIATION, Role.COMMITTEE})
