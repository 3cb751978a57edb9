"""Line health for operators (issue 15, item 5): follow-up of silent lines and odd patterns.

The tasks are listed on the operators' task page (``/taches``) next to the
test-call chases; here is one task with its guided steps.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, Flask, g, render_template, url_for

from dispatch_ui import task_steps
from dispatch_ui.security import requires
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
        form=task_steps.step_form(view.next_step, STEP_OUTCOMES, OUTCOME_LABELS),
        reasons=REASON_LABELS,
        step_labels={k.value: v for k, v in STEP_LABELS.items()},
        outcome_labels={k.value: v for k, v in OUTCOME_LABELS.items()},
    )


@bp.post("/<int:task_id>/etape")
@requires(Permission.CONSOLE)
def record_step(task_id: int) -> Any:
    """Record the outcome of the expected step, with its time."""
    session, platform = db_session(), current_platform()
    found = line_health.get_task(session, task_id)
    return task_steps.record_step(
        HealthStep,
        HealthOutcome,
        partial(
            line_health.record_step,
            session,
            found,
            user_id=g.user.id,
            default_timezone=platform.settings.default_timezone,
            clock=platform.clock,
        ),
        back=url_for("line_health.task", task_id=task_id),
    )


def init_app(app: Flask) -> None:
    """Register the line-health task pages."""
    app.register_blueprint(bp)
