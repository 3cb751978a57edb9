"""The one catalogue of French labels for the codes people read (issue 13, item 5).

Natures, orientations, alert states, call legs and their statuses, carrier
failures, service-level kinds and penalty exemptions are stored as codes
(``danger_reel``, ``no-answer``…). Every screen (console, file page,
supervision) and the reports show them through these functions, never the
code itself. Labels are marked with ``N_`` and translated where they are shown
(Flask-Babel ``gettext``); reports, which are always French, use them as they are.
"""

from __future__ import annotations

import enum

from tgd.domain.alerts import AlertNature, AlertState, LegRole, Orientation
from tgd.domain.errors import N_

NATURES: dict[AlertNature, str] = {
    AlertNature.NON_QUALIFIEE: N_("non qualifiée"),
    AlertNature.DANGER_REEL: N_("danger réel"),
    AlertNature.ESSAI: N_("essai"),
    AlertNature.ACCIDENTEL: N_("appel accidentel"),
    AlertNature.DEMANDE_SOUTIEN: N_("demande de soutien"),
    AlertNature.TECHNIQUE: N_("technique"),
    AlertNature.NON_CONFORME: N_("utilisation non conforme au dispositif"),
    AlertNature.CANARI: N_("canari (contrôle automatique)"),
}
# What an operator may choose when closing an alert, in the order shown.
CLOSING_NATURES = (
    AlertNature.DANGER_REEL,
    AlertNature.DEMANDE_SOUTIEN,
    AlertNature.ESSAI,
    AlertNature.ACCIDENTEL,
    AlertNature.TECHNIQUE,
    AlertNature.NON_CONFORME,
)
ORIENTATIONS: dict[Orientation, str] = {
    Orientation.FORCES_ALERTEES: N_("forces de l'ordre alertées"),
    Orientation.SOUTIEN: N_("soutien apporté"),
    Orientation.ASSOCIATION_CONTACTEE: N_("association contactée"),
    Orientation.AUCUNE: N_("aucune suite"),
    Orientation.AUTRE: N_("autre"),
}
NO_ORIENTATION = N_("non renseignée")
STATES: dict[AlertState, str] = {
    AlertState.RINGING: N_("en attente"),
    AlertState.CLAIMED: N_("prise en charge"),
    AlertState.CLOSED: N_("close"),
}
LEG_ROLES: dict[str, str] = {
    LegRole.CALLER.value: N_("personne protégée"),
    LegRole.CALLBACK.value: N_("personne protégée (rappel)"),
    LegRole.OPERATOR.value: N_("téléassisteur"),
    LegRole.POLICE.value: N_("forces de l'ordre"),
    "gendarmerie": N_("gendarmerie"),
    LegRole.OVERFLOW.value: N_("centre de secours"),
    LegRole.COUNTER_CALL.value: N_("contre-appel des forces de l'ordre"),
}
# The carrier's call statuses, and ours before the carrier answers.
LEG_STATUSES: dict[str, str] = {
    "dialling": N_("appel en cours de lancement"),
    "queued": N_("appel lancé"),
    "initiated": N_("appel lancé"),
    "ringing": N_("sonne"),
    "in-progress": N_("en ligne"),
    "answered": N_("en ligne"),
    "leaving": N_("sortie du pont en cours"),
    "left": N_("a quitté le pont"),
    "completed": N_("raccroché"),
    "busy": N_("occupé"),
    "no-answer": N_("pas de réponse"),
    "failed": N_("échec"),
    "canceled": N_("annulé"),
}
FAILED_STATUSES = frozenset({"busy", "no-answer", "failed"})
CONNECTED_STATUSES = frozenset({"in-progress", "answered"})
RINGING_STATUSES = frozenset({"dialling", "queued", "initiated", "ringing"})


class FailureKind(enum.StrEnum):
    """Why a leg could not be placed, as stored in ``CallLeg.failure``."""

    REFUSED = "refused"  # the carrier answered with an error
    UNREACHABLE = "unreachable"  # the carrier could not be reached
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"


FAILURES: dict[str, str] = {
    FailureKind.REFUSED: N_("l'opérateur téléphonique a refusé l'appel (erreur %(detail)s)"),
    FailureKind.UNREACHABLE: N_("l'opérateur téléphonique est injoignable"),
    FailureKind.BUSY: N_("la ligne est occupée"),
    FailureKind.NO_ANSWER: N_("personne n'a décroché"),
    FailureKind.FAILED: N_("le numéro n'a pas pu être appelé"),
}


def failure_label(code: str | None) -> tuple[str, dict[str, str]] | None:
    """Return the label template of a stored failure code and its parameters, or None."""
    if not code:
        return None
    kind, _, rest = code.partition(":")
    template = FAILURES.get(kind, FAILURES[FailureKind.FAILED])
    detail = rest.replace(":", ", code ") if rest else "?"
    return template, {"detail": f"HTTP {detail}"}


class ExemptionCause(enum.StrEnum):
    """CCP VIII.5: documented causes for which no penalty is due."""

    ADMINISTRATION = "administration"  # a fault of the administration (its teams unavailable…)
    TIERS = "tiers"  # a third party's software or hardware, not covered by the contract
    ELECTRICITE = "electricite"  # a variation of the electric current
    RESEAU = "reseau"  # a failure of the telecommunications network


EXEMPTIONS: dict[ExemptionCause, str] = {
    ExemptionCause.ADMINISTRATION: N_("faute de l'administration (indisponibilité des équipes…)"),
    ExemptionCause.TIERS: N_("dysfonctionnement d'un logiciel ou d'un matériel tiers"),
    ExemptionCause.ELECTRICITE: N_("variation du courant électrique"),
    ExemptionCause.RESEAU: N_("défaillance du réseau de télécommunications"),
}


def nature_label(nature: AlertNature | str | None) -> str:
    """Return the label (untranslated French) of a nature code."""
    try:
        return NATURES[AlertNature(nature)] if nature else NATURES[AlertNature.NON_QUALIFIEE]
    except ValueError:
        return str(nature)


def orientation_label(orientation: Orientation | str | None) -> str:
    """Return the label (untranslated French) of an orientation code."""
    if not orientation:
        return NO_ORIENTATION
    try:
        return ORIENTATIONS[Orientation(orientation)]
    except ValueError:
        return str(orientation)


def leg_status_label(status: str | None) -> str:
    """Return the label (untranslated French) of a leg's status."""
    return LEG_STATUSES.get(status or "", status or "")
