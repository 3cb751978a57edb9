"""Calendar rules of the schedules (DESIGN §6): test-call chase, call hours, retention periods.

Pure functions, no database: "days" are counted on the territory's own calendar
(R-34), so the same UTC instant can be "day 15" in Cayenne and "day 16" in
Nouméa. The guided steps of a test-call chase (R-30) are data here, so the
service, the pages and the tests agree on them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tgd.domain.errors import N_, ValidationError

# calls to a beneficiary are proposed between these local hours (product choice).
CALL_HOURS = (9, 20)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return moment


def chase_due_at(last_test_at: datetime, timezone: str, overdue_days: int = 15) -> datetime:
    """R-30: the instant a line becomes overdue: 00:00 local after ``overdue_days`` whole days.

    A test on day D leaves days D+1 … D+15 without a test; the chase starts at
    the first minute of day D+16, on the territory's calendar.
    """
    zone = ZoneInfo(timezone)
    local_day = _aware(last_test_at).astimezone(zone).date()
    start = local_day + timedelta(days=overdue_days + 1)
    return datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC)


def is_chase_due(
    last_test_at: datetime, now: datetime, timezone: str, overdue_days: int = 15
) -> bool:
    """R-30: tell whether the last successful test is more than ``overdue_days`` days old."""
    return _aware(now) >= chase_due_at(last_test_at, timezone, overdue_days)


def is_call_hour(now: datetime, timezone: str, hours: tuple[int, int] = CALL_HOURS) -> bool:
    """Tell whether ``now`` is a reasonable local hour to call a beneficiary (R-30, R-34)."""
    local = _aware(now).astimezone(ZoneInfo(timezone))
    return hours[0] <= local.hour < hours[1]


def next_call_time(now: datetime, timezone: str, hours: tuple[int, int] = CALL_HOURS) -> datetime:
    """Return ``now`` if it is a reasonable local hour, else the next opening of the window."""
    zone = ZoneInfo(timezone)
    local = _aware(now).astimezone(zone)
    if hours[0] <= local.hour < hours[1]:
        return _aware(now).astimezone(UTC)
    day = local.date() if local.hour < hours[0] else local.date() + timedelta(days=1)
    return datetime.combine(day, time(hours[0]), tzinfo=zone).astimezone(UTC)


class ChaseStep(enum.StrEnum):
    """R-30: the guided steps of a test-call chase, in the order the rule gives them."""

    APPEL_TERMINAL = "appel_terminal"  # call the terminal
    RAPPEL_ESSAIS = "rappel_essais"  # remind the person of the twice-monthly tests
    APPEL_AUTRES_NUMEROS = "appel_autres_numeros"  # unreachable: the other numbers on the file
    CONTACT_ASSOCIATION = "contact_association"  # all failed: the association, at once
    ESSAI_RECU = "essai_recu"  # closed by the job: a test call arrived meanwhile
    DOSSIER_CLOS = "dossier_clos"  # closed by the job: the file is no longer active

    @property
    def label(self) -> str:
        """Return the French label shown to operators."""
        return CHASE_STEP_LABELS[self]


CHASE_STEP_LABELS = {
    ChaseStep.APPEL_TERMINAL: N_("Appeler le terminal"),
    ChaseStep.RAPPEL_ESSAIS: N_("Rappeler à la personne les essais deux fois par mois"),
    ChaseStep.APPEL_AUTRES_NUMEROS: N_("Appeler les autres numéros de la fiche"),
    ChaseStep.CONTACT_ASSOCIATION: N_("Contacter sans délai l'association référente"),
    ChaseStep.ESSAI_RECU: N_("Essai reçu entre-temps"),
    ChaseStep.DOSSIER_CLOS: N_("Dossier plus actif"),
}


class ChaseOutcome(enum.StrEnum):
    """The outcome of one step (codes only: no personal data in steps)."""

    JOINT = "joint"
    INJOIGNABLE = "injoignable"
    FAIT = "fait"
    ECHEC = "echec"

    @property
    def label(self) -> str:
        """Return the French label shown to operators."""
        return CHASE_OUTCOME_LABELS[self]


CHASE_OUTCOME_LABELS = {
    ChaseOutcome.JOINT: N_("personne jointe"),
    ChaseOutcome.INJOIGNABLE: N_("injoignable"),
    ChaseOutcome.FAIT: N_("fait"),
    ChaseOutcome.ECHEC: N_("échec"),
}

STEP_OUTCOMES: dict[ChaseStep, tuple[ChaseOutcome, ...]] = {
    ChaseStep.APPEL_TERMINAL: (ChaseOutcome.JOINT, ChaseOutcome.INJOIGNABLE),
    ChaseStep.RAPPEL_ESSAIS: (ChaseOutcome.FAIT,),
    ChaseStep.APPEL_AUTRES_NUMEROS: (ChaseOutcome.JOINT, ChaseOutcome.INJOIGNABLE),
    ChaseStep.CONTACT_ASSOCIATION: (ChaseOutcome.FAIT, ChaseOutcome.ECHEC),
}
# Steps that are phone calls to the person: proposed at reasonable hours only.
CALL_STEPS = frozenset({ChaseStep.APPEL_TERMINAL, ChaseStep.APPEL_AUTRES_NUMEROS})


def next_chase_step(history: Sequence[tuple[str, str]]) -> ChaseStep | None:
    """Return the step to do after ``history`` (step, outcome pairs), or None when finished."""
    if not history:
        return ChaseStep.APPEL_TERMINAL
    step, outcome = ChaseStep(history[-1][0]), ChaseOutcome(history[-1][1])
    if step in (ChaseStep.APPEL_TERMINAL, ChaseStep.APPEL_AUTRES_NUMEROS):
        if outcome is ChaseOutcome.JOINT:
            return ChaseStep.RAPPEL_ESSAIS
        if step is ChaseStep.APPEL_TERMINAL:
            return ChaseStep.APPEL_AUTRES_NUMEROS
        return ChaseStep.CONTACT_ASSOCIATION
    if step is ChaseStep.CONTACT_ASSOCIATION and outcome is ChaseOutcome.ECHEC:
        return ChaseStep.CONTACT_ASSOCIATION  # keep trying: the rule says "at once"
    return None  # reminder done, association contacted, or closed by the job


def check_chase_step(
    history: Sequence[tuple[str, str]], step: ChaseStep, outcome: ChaseOutcome
) -> None:
    """Refuse a step that is not the expected one, or an outcome it cannot have."""
    expected = next_chase_step(history)
    if expected is None:
        raise ValidationError(N_("Cette relance est terminée."))
    if step is not expected:
        raise ValidationError(
            N_("L'étape attendue est « %(step)s »."), step=CHASE_STEP_LABELS[expected]
        )
    if outcome not in STEP_OUTCOMES[step]:
        raise ValidationError(N_("Ce résultat n'est pas possible pour cette étape."))


def positions_retention_days(override: int | None, default: int = 3, maximum: int = 8) -> int:
    """R-16b: how many days a file's positions are kept (the parquet's extension, capped)."""
    if override is None:
        return default
    return max(default, min(override, maximum))


def check_positions_extension(days: int, default: int = 3, maximum: int = 8) -> None:
    """R-16b: the parquet may extend the positions' retention up to ``maximum`` days."""
    if not default <= days <= maximum:
        raise ValidationError(
            N_("La durée de conservation des positions doit être entre %(low)s et %(high)s jours."),
            low=default,
            high=maximum,
        )
