"""Values of alert handling (DESIGN §5): states, natures, orientations, call legs."""

from __future__ import annotations

import enum


class AlertState(enum.StrEnum):
    """Where an alert stands, from the first ring to its closure."""

    RINGING = "ringing"  # stored, caller in the bridge, nobody has claimed it
    CLAIMED = "claimed"  # an operator took it
    CLOSED = "closed"  # qualified and closed


class AlertNature(enum.StrEnum):
    """R-27: the nature recorded when an alert is closed."""

    NON_QUALIFIEE = "non_qualifiee"
    DANGER_REEL = "danger_reel"
    ESSAI = "essai"
    ACCIDENTEL = "accidentel"
    DEMANDE_SOUTIEN = "demande_soutien"
    TECHNIQUE = "technique"
    NON_CONFORME = "non_conforme"
    CANARI = "canari"  # R-24c: synthetic, never counted in reports


class Orientation(enum.StrEnum):
    """R-27: the orientation given to an alert."""

    AUCUNE = "aucune"
    SOUTIEN = "soutien"
    FORCES_ALERTEES = "forces_alertees"
    ASSOCIATION_CONTACTEE = "association_contactee"
    AUTRE = "autre"


class LegRole(enum.StrEnum):
    """Who a call leg in the bridge belongs to."""

    CALLER = "caller"
    OPERATOR = "operator"
    POLICE = "police"
    OVERFLOW = "overflow"
    COUNTER_CALL = "counter_call"
    CALLBACK = "callback"  # R-24b: the terminal called back when the bridge ended


class PositionSource(enum.StrEnum):
    """R-28: how a position was obtained."""

    GNSS = "gnss"
    WIFI = "wifi"
    CELL = "cell"
    MANUAL = "manual"  # keyed in by an operator from what the person said


class ForceKind(enum.StrEnum):
    """Police nationale (mostly urban) or gendarmerie nationale (mostly rural)."""

    POLICE = "police"
    GENDARMERIE = "gendarmerie"
