"""Schedules for people: chase tasks with guided steps (R-30), jobs and retention periods for
administrators (R-33, R-16b), service-level breaches for supervisors (R-32), the destruction
register for auditors (R-16, R-31)."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, Flask, Response, g, render_template, request, url_for
from flask_babel import gettext

from dispatch_ui import task_steps
from dispatch_ui.security import requires
from tgd.domain.schedules import (
    CHASE_OUTCOME_LABELS,
    CHASE_STEP_LABELS,
    STEP_OUTCOMES,
    ChaseOutcome,
    ChaseStep,
)
from tgd.http import current_platform, db_session, write_from_here
from tgd.jobs import status
from tgd.services import line_health, retention, service_levels, tests_chase
from tgd.services.policy import Permission

bp = Blueprint("schedules", __name__)


@bp.get("/taches")
@requires(Permission.CONSOLE)
def tasks() -> Any:
    """List the open test-call chases, earliest first (references only)."""
    done = request.args.get("terminees") == "1"
    views = tests_chase.list_tasks(db_session(), include_done=done)
    health = line_health.list_tasks(  # issue 15: line health
        db_session(),
        default_timezone=current_platform().settings.default_timezone,
        include_done=done,
    )
    hours = current_platform().settings.retention.test_call_chase_escalation_hours
    return render_template(
        "schedules/tasks.html", views=views, health=health, done=done, escalation_hours=hours
    )


@bp.get("/taches/<int:task_id>")
@requires(Permission.CONSOLE)
def task(task_id: int) -> Any:
    """Show a chase with its steps and the form for the next one."""
    view = tests_chase.task_view(
        db_session(), tests_chase.get_task(db_session(), task_id), clock=current_platform().clock
    )
    return render_template(
        "schedules/task.html",
        v=view,
        form=task_steps.step_form(view.next_step, STEP_OUTCOMES, CHASE_OUTCOME_LABELS),
        step_labels={k.value: v for k, v in CHASE_STEP_LABELS.items()},
        outcome_labels={k.value: v for k, v in CHASE_OUTCOME_LABELS.items()},
    )


@bp.post("/taches/<int:task_id>/etape")
@requires(Permission.CONSOLE)
def record_step(task_id: int) -> Any:
    """Record the outcome of the expected step, with its time (R-30)."""
    session = db_session()
    found = tests_chase.get_task(session, task_id)
    return task_steps.record_step(
        ChaseStep,
        ChaseOutcome,
        partial(
            tests_chase.record_step,
            session,
            found,
            user_id=g.user.id,
            clock=current_platform().clock,
        ),
        back=url_for("schedules.task", task_id=task_id),
    )


@bp.get("/planification")
@requires(Permission.USER_ADMIN)
def jobs() -> Any:
    """Show each job's last and next run, the leader, and the retention periods (R-16b)."""
    platform = current_platform()
    session = db_session()
    return render_template(
        "schedules/jobs.html",
        statuses=status.job_statuses(session, platform.settings, now=platform.clock.now()),
        runs=status.recent_runs(session),
        holder=status.scheduler_holder(session),
        periods=platform.settings.retention,
        due=retention.closed_files(session, months=platform.settings.retention.closed_file_months),
    )


@bp.get("/delais")
@requires(Permission.SUPERVISE)
def breaches() -> Any:
    """Show the service-level breaches to supervisors (R-32)."""
    kind = request.args.get("type") or None
    if kind not in (None, *service_levels.KIND_LABELS):
        kind = None
    return render_template(
        "schedules/breaches.html",
        breaches=service_levels.list_breaches(db_session(), kind=kind),
        labels=service_levels.KIND_LABELS,
        kind=kind,
    )


@bp.get("/registre-destructions")
@requires(Permission.AUDIT_READ)
def register() -> Any:
    """Show the destruction register, or export it as CSV or ODS for auditors."""
    records = retention.destruction_register(db_session())
    fmt = request.args.get("format")
    if fmt not in ("csv", "ods"):
        return render_template("schedules/register.html", records=records)
    body = retention.export_register(
        write_from_here(),  # the export is audited: this reading page writes from here
        fmt,
        header=[gettext(c) for c in retention.REGISTER_COLUMNS],
        title=gettext("Registre"),
        user_id=g.user.id,
        clock=current_platform().clock,
    )
    mimetype = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.oasis.opendocument.spreadsheet"
    )
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=registre-destructions.{fmt}"
    return response


def init_app(app: Flask) -> None:
    """Register the schedules blueprint."""
    app.register_blueprint(bp)
