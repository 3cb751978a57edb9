"""Guided steps of an operator's task, shared by the test-call chases (R-30) and line health.

Both kinds of task show their recorded steps, then a form for the expected step: its
outcomes, and the override of the person's call hours. The form, its filling and the
recording of a step live here once; each door says which steps, outcomes and service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any

from flask import flash, redirect
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField
from wtforms.validators import DataRequired

from dispatch_ui.flashes import flash_refusal
from tgd.domain.errors import DomainError


class StepForm(FlaskForm):
    """The outcome of the expected step, and the operator's override of the call hours."""

    step = HiddenField(validators=[DataRequired()])
    outcome = RadioField(_l("Résultat"), validators=[DataRequired()], choices=[])
    override = BooleanField(_l("Appeler quand même (heure tardive ou matinale chez la personne)"))


def step_form(
    next_step: Enum | None,
    outcomes_of: Mapping[Any, Iterable[Enum]],
    labels: Mapping[Any, str],
) -> StepForm | None:
    """Return the form for the expected step (None once the task is done), labels in French."""
    if next_step is None:
        return None
    form = StepForm()
    form.step.data = next_step.value
    form.outcome.choices = [(o.value, gettext(labels[o])) for o in outcomes_of[next_step]]
    return form


def record_step(
    steps: type[Enum], outcomes: type[Enum], record: Callable[..., object], *, back: str
) -> Any:
    """Validate the posted step, record it, say how it went, go ``back``.

    ``record`` is the service's ``record_step`` with the task, user and clock bound: it is
    called with the posted ``step``, ``outcome`` and ``override_hours``, and raises its
    ``DomainError`` for a step it refuses. A step or outcome that is not a known one is
    answered without calling it.
    """
    form = StepForm()
    form.outcome.choices = [(o.value, o.value) for o in outcomes]
    if not form.validate_on_submit():
        flash(gettext("Choisissez un résultat."), "error")
        return redirect(back)
    try:
        record(
            step=steps(form.step.data),
            outcome=outcomes(form.outcome.data),
            override_hours=bool(form.override.data),
        )
    except DomainError as err:
        flash_refusal(err)
    except ValueError:
        flash(gettext("Étape inconnue."), "error")
    else:
        flash(gettext("Étape enregistrée."), "success")
    return redirect(back)
