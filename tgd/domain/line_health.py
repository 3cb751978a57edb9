"""Line health (issue 15): silent lines and suspicious patterns, and the operators' follow-up.

Pure rules. A line in service is *silent* when nothing was heard from it (no
call, no position, no test) for a configurable time; a terminal shows a
*suspicious pattern* when it made many short calls, or had repeated accidental
alerts, within a window. Each finding becomes a follow-up task whose guided
steps are data here (like the test-call chase, R-30): call the terminal; if
reached, conclude (nothing wrong, fault suspected, correct use reminded); if
not, contact the association référente at once.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tgd.domain.errors import N_, ValidationError


class HealthReason(enum.StrEnum):
    """Why a line is flagged."""

    SILENCE = "silence"
    APPELS_COURTS = "appels_courts"
    ALERTES_ACCIDENTELLES = "alertes_accidentelles"

    @property
    def label(self) -> str:
        """Return the French label shown to operators."""
        return REASON_LABELS[self]


REASON_LABELS = {
    HealthReason.SILENCE: N_("ligne silencieuse (ni appel, ni position, ni essai)"),
    HealthReason.APPELS_COURTS: N_("appels courts répétés"),
    HealthReason.ALERTES_ACCIDENTELLES: N_("alertes accidentelles répétées"),
}


class HealthStep(enum.StrEnum):
    """The guided steps of a line-health follow-up, and the job's closing steps."""

    APPEL_TERMINAL = "appel_terminal"
    CONCLUSION = "conclusion"
    CONTACT_ASSOCIATION = "contact_association"
    ACTIVITE_REPRISE = "activite_reprise"  # closed by the job: the line was heard again
    MOTIF_RESORBE = "motif_resorbe"  # closed by the job: the pattern is no longer seen
    HORS_SERVICE = "hors_service"  # closed by the job: the line is no longer assigned

    @property
    def label(self) -> str:
        """Return the French label shown to operators."""
        return STEP_LABELS[self]


STEP_LABELS = {
    HealthStep.APPEL_TERMINAL: N_("Appeler le terminal"),
    HealthStep.CONCLUSION: N_("Conclure avec la personne"),
    HealthStep.CONTACT_ASSOCIATION: N_("Contacter sans délai l'association référente"),
    HealthStep.ACTIVITE_REPRISE: N_("Ligne de nouveau active"),
    HealthStep.MOTIF_RESORBE: N_("Motif résorbé"),
    HealthStep.HORS_SERVICE: N_("Ligne plus en service"),
}


class HealthOutcome(enum.StrEnum):
    """The outcome of a step (codes only: no personal data in steps)."""

    JOINT = "joint"
    INJOIGNABLE = "injoignable"
    RAS = "ras"
    PANNE_SUSPECTEE = "panne_suspectee"
    USAGE_RAPPELE = "usage_rappele"
    FAIT = "fait"
    ECHEC = "echec"

    @property
    def label(self) -> str:
        """Return the French label shown to operators."""
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    HealthOutcome.JOINT: N_("personne jointe"),
    HealthOutcome.INJOIGNABLE: N_("injoignable"),
    HealthOutcome.RAS: N_("rien à signaler"),
    HealthOutcome.PANNE_SUSPECTEE: N_("panne suspectée : parquet ou association prévenu"),
    HealthOutcome.USAGE_RAPPELE: N_("bon usage du terminal rappelé"),
    HealthOutcome.FAIT: N_("fait"),
    HealthOutcome.ECHEC: N_("échec"),
}

STEP_OUTCOMES: dict[HealthStep, tuple[HealthOutcome, ...]] = {
    HealthStep.APPEL_TERMINAL: (HealthOutcome.JOINT, HealthOutcome.INJOIGNABLE),
    HealthStep.CONCLUSION: (
        HealthOutcome.RAS,
        HealthOutcome.PANNE_SUSPECTEE,
        HealthOutcome.USAGE_RAPPELE,
    ),
    HealthStep.CONTACT_ASSOCIATION: (HealthOutcome.FAIT, HealthOutcome.ECHEC),
}
CALL_STEPS = frozenset({HealthStep.APPEL_TERMINAL})


def next_health_step(history: Sequence[tuple[str, str]]) -> HealthStep | None:
    """Return the step to do after ``history`` (step, outcome pairs), or None when finished."""
    if not history:
        return HealthStep.APPEL_TERMINAL
    step, outcome = HealthStep(history[-1][0]), HealthOutcome(history[-1][1])
    if step is HealthStep.APPEL_TERMINAL:
        return (
            HealthStep.CONCLUSION
            if outcome is HealthOutcome.JOINT
            else HealthStep.CONTACT_ASSOCIATION
        )
    if step is HealthStep.CONTACT_ASSOCIATION and outcome is HealthOutcome.ECHEC:
        return HealthStep.CONTACT_ASSOCIATION  # keep trying
    return None


def check_health_step(
    history: Sequence[tuple[str, str]], step: HealthStep, outcome: HealthOutcome
) -> None:
    """Refuse a step that is not the expected one, or an outcome it cannot have."""
    expected = next_health_step(history)
    if expected is None:
        raise ValidationError(N_("Ce suivi est terminé."))
    if step is not expected:
        raise ValidationError(N_("L'étape attendue est « %(step)s »."), step=STEP_LABELS[expected])
    if outcome not in STEP_OUTCOMES[step]:
        raise ValidationError(N_("Ce résultat n'est pas possible pour cette étape."))


@dataclass(frozen=True)
class Thresholds:
    """When a line is flagged (``[line_health]`` settings)."""

    silence: timedelta
    short_call_seconds: int
    short_calls: int
    short_calls_window: timedelta
    accidental_alerts: int
    accidental_window: timedelta


@dataclass(frozen=True)
class Call:
    """A call received from a terminal: when, and how long (None while it runs)."""

    at: datetime
    duration_s: int | None


def is_silent(last_heard: datetime, now: datetime, silence: timedelta) -> bool:
    """Tell whether a line has been silent for at least ``silence``."""
    return now - last_heard >= silence


def short_call_burst(
    calls: Sequence[Call], *, since: datetime, now: datetime, thresholds: Thresholds
) -> datetime | None:
    """Return the first short call of a burst in the window, or None without a burst."""
    start = max(since, now - thresholds.short_calls_window)
    short = sorted(
        c.at
        for c in calls
        if start <= c.at <= now
        and c.duration_s is not None
        and c.duration_s < thresholds.short_call_seconds
    )
    return short[0] if len(short) >= thresholds.short_calls else None


def accidental_burst(
    alerts_at: Sequence[datetime], *, since: datetime, now: datetime, thresholds: Thresholds
) -> datetime | None:
    """Return the first accidental alert of a burst in the window, or None without a burst."""
    start = max(since, now - thresholds.accidental_window)
    hits = sorted(at for at in alerts_at if start <= at <= now)
    return hits[0] if len(hits) >= thresholds.accidental_alerts else None
