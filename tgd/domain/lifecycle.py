"""Lifecycles of DESIGN §4: the line (terminal slot) and the beneficiary file.

The allowed transitions live here, as data, so services, tests and the admin
screens agree on them. ``check_line_transition`` raises a ``Conflict`` with a
French message when a service asks for a move the lifecycle does not allow.
"""

from __future__ import annotations

import enum

from tgd.domain.errors import N_, Conflict


class LineStatus(enum.StrEnum):
    """Status of a line's assignment record (DESIGN §4, §10 values)."""

    EN_STOCK = "en_stock"
    EN_ATTENTE = "en_attente"  # activated, listed in the centre's file [Annexe 1]
    MISE_EN_SERVICE = "mise_en_service"  # navette received, commissioning under way
    AFFECTE = "affecte"
    RESILIATION_DEMANDEE = "resiliation_demandee"
    CLOTURE = "cloture"

    @property
    def label(self) -> str:
        """Return the French label shown to users."""
        return LINE_STATUS_LABELS[self]


LINE_STATUS_LABELS = {
    LineStatus.EN_STOCK: N_("en stock"),
    LineStatus.EN_ATTENTE: N_("en attente d'affectation"),
    LineStatus.MISE_EN_SERVICE: N_("mise en service"),
    LineStatus.AFFECTE: N_("affecté"),
    LineStatus.RESILIATION_DEMANDEE: N_("résiliation demandée"),
    LineStatus.CLOTURE: N_("clôturé"),
}

LINE_TRANSITIONS: dict[LineStatus, frozenset[LineStatus]] = {
    LineStatus.EN_STOCK: frozenset({LineStatus.EN_ATTENTE}),
    LineStatus.EN_ATTENTE: frozenset({LineStatus.MISE_EN_SERVICE, LineStatus.EN_STOCK}),
    LineStatus.MISE_EN_SERVICE: frozenset({LineStatus.AFFECTE, LineStatus.RESILIATION_DEMANDEE}),
    LineStatus.AFFECTE: frozenset({LineStatus.RESILIATION_DEMANDEE}),
    LineStatus.RESILIATION_DEMANDEE: frozenset({LineStatus.CLOTURE, LineStatus.AFFECTE}),
    LineStatus.CLOTURE: frozenset(),  # never reopened; a Y+1 record follows
}


def check_line_transition(current: LineStatus, target: LineStatus) -> None:
    """Refuse a status change the line lifecycle does not allow."""
    if target not in LINE_TRANSITIONS[current]:
        raise Conflict(
            N_("Passage impossible de « %(current)s » à « %(target)s » pour cette ligne."),
            current=current.label,
            target=target.label,
        )


class FileState(enum.StrEnum):
    """State of a beneficiary file."""

    EN_CREATION = "en_creation"  # created from the navette, commissioning under way
    ATTRIBUE = "attribue"  # "attribué définitivement": the three commissioning steps succeeded
    RESILIATION_DEMANDEE = "resiliation_demandee"  # termination navette received
    CLOTURE = "cloture"  # closed, exported to the parquet, destruction scheduled
    DETRUIT = "detruit"  # nominative data destroyed; only anonymous figures remain

    @property
    def label(self) -> str:
        """Return the French label shown to users."""
        return FILE_STATE_LABELS[self]


FILE_STATE_LABELS = {
    FileState.EN_CREATION: N_("en cours de mise en service"),
    FileState.ATTRIBUE: N_("attribué définitivement"),
    FileState.RESILIATION_DEMANDEE: N_("résiliation demandée"),
    FileState.CLOTURE: N_("clôturé"),
    FileState.DETRUIT: N_("détruit"),
}

FILE_TRANSITIONS: dict[FileState, frozenset[FileState]] = {
    FileState.EN_CREATION: frozenset({FileState.ATTRIBUE, FileState.RESILIATION_DEMANDEE}),
    FileState.ATTRIBUE: frozenset({FileState.RESILIATION_DEMANDEE}),
    FileState.RESILIATION_DEMANDEE: frozenset({FileState.CLOTURE}),
    FileState.CLOTURE: frozenset({FileState.DETRUIT}),
    FileState.DETRUIT: frozenset(),
}


def check_file_transition(current: FileState, target: FileState) -> None:
    """Refuse a file state change the lifecycle does not allow."""
    if target not in FILE_TRANSITIONS[current]:
        raise Conflict(
            N_("Passage impossible de « %(current)s » à « %(target)s » pour cette fiche."),
            current=current.label,
            target=target.label,
        )


class CommissioningStep(enum.StrEnum):
    """R-11: the three commissioning steps, in order."""

    TEST_TERMINAL = "test_terminal"
    CHECK_ASSIGNMENT = "verification_affectation"
    TEST_CALL_BY_PERSON = "essai_beneficiaire"


class NavetteKind(enum.StrEnum):
    """The four fiches navettes."""

    ATTRIBUTION = "attribution"
    MISE_A_JOUR = "mise_a_jour"
    INFORMATION_PONCTUELLE = "information_ponctuelle"
    RESILIATION = "resiliation"


class NavetteSource(enum.StrEnum):
    """How a navette reached the centre; R-10's clock starts at its arrival."""

    PORTAIL = "portail"
    EMAIL = "email"
    FAX = "fax"


class NavetteState(enum.StrEnum):
    """Processing state of a navette."""

    BROUILLON = "brouillon"
    RECUE = "recue"
    TRAITEE = "traitee"
    REJETEE = "rejetee"
