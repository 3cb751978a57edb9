"""Line health for operators (issue 15, item 5): follow-up of silent lines and odd patterns.

The tasks are listed on the operators' task page (``/taches``) next to the
test-call chases; here is one task with its guided steps.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, g, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField
from wtforms.validators import DataRequired

from dispatch_ui.flashes import flash_refusal
from dispatch_ui.security import requires
from tgd.db.models.operations import Task
from tgd.domain.errors import DomainError
from tgd.domain.line_health import (
    OUTCOME_LABELS,
    REASON_LABELS,
    STEP_LABELS,
    STEP_OUTCOMES,
    HealthOutcome,
    HealthStep,
)
from tgd.http import current_platform, db_session
from tgd.services import line_health
from tgd.services.policy import Permission

bp = Blueprint("line_health", __name__, url_prefix="/taches/sante")


class StepForm(FlaskForm):
    """The outcome of the expected step, and the operator's override of the call hours."""

    step = HiddenField(validators=[DataRequired()])
    outcome = RadioField(_l("Résultat"), validators=[DataRequired()], choices=[])
    override = BooleanField(_l("Appeler quand même (heure tardive ou matinale chez la personne)"))


def _step_form(view: line_health.HealthTaskView) -> StepForm | None:
    if view.next_step is None:
        return None
    form = StepForm()
    form.step.data = view.next_step.value
    form.outcome.choices = [
        (o.value, gettext(OUTCOME_LABELS[o])) for o in STEP_OUTCOMES[view.next_step]
    ]
    return form


@bp.get("/<int:task_id>")
@requires(Permission.CONSOLE)
def task(task_id: int) -> Any:
    """Show a line-health task with its steps and the form for the next one."""
    session, platform = db_session(), current_platform()
    view = line_health.task_view(
        session,
        line_health.get_task(session, task_id),
        default_timezone=platform.settings.default_timezone,
        clock=platform.clock,
    )
    return render_template(
        "line_health/task.html",
        v=view,
        form=_step_form(view),
        reasons=REASON_LABELS,
        step_labels={k.value: v for k, v in STEP_LABELS.items()},
        outcome_labels={k.value: v for k, v in OUTCOME_LABELS.items()},
    )


@bp.post("/<int:task_id>/etape")
@requires(Permission.CONSOLE)
def record_step(task_id: int) -> Any:
    """Record the outcome of the expected step, with its time."""
    found = line_health.get_task(db_session(), task_id)
    form = StepForm()
    form.outcome.choices = [(o.value, o.value) for o in HealthOutcome]
    if not form.validate_on_submit():
        flash(gettext("Choisissez un résultat."), "error")
        return redirect(url_for("line_health.task", task_id=task_id))
    try:
        _record_step(found, form)
    except DomainError as err:
        flash_refusal(err)
    except ValueError:
        flash(gettext("Étape inconnue."), "error")
    else:
        flash(gettext("Étape enregistrée."), "success")
    return redirect(url_for("line_health.task", task_id=task_id))


def _record_step(found: Task, form: StepForm) -> None:
    """Record the step and outcome read from the form (``ValueError``: not a known one)."""
    platform = current_platform()
    line_health.record_step(
        db_session(),
        found,
        step=HealthStep(form.step.data),
        outcome=HealthOutcome(form.outcome.data),
        user_id=g.user.id,
        override_hours=bool(form.override.data),
        default_timezone=platform.settings.default_timezone,
        clock=platform.clock,
    )


def init_app(app: Flask) -> None:
    """Register the line-health task pages."""
    app.register_blueprint(bp)
