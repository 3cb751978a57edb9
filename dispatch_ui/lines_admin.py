"""Line and terminal administration for administrators: stock, activation, swap (R-01, R-18)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from dispatch_ui.portal import show_errors
from dispatch_ui.security import audit_here, requires
from tgd.db.models.lines import Line
from tgd.domain.errors import DomainError
from tgd.domain.navettes import FieldErrors
from tgd.http import current_platform, db_session
from tgd.services import line_admin, lines, policy
from tgd.services.policy import Permission

bp = Blueprint("lines_admin", __name__, url_prefix="/admin/lignes")


class StockForm(FlaskForm):
    """A new line in stock."""

    juridiction = StringField(
        _l("Juridiction (code INSEE)"), validators=[DataRequired(), Length(max=5)]
    )
    order_no = IntegerField(
        _l("Numéro d'ordre (XX)"), validators=[DataRequired(), NumberRange(1, 99)]
    )
    msisdn = StringField(_l("Numéro de la ligne"), validators=[DataRequired(), Length(max=20)])
    iccid = StringField(_l("ICCID de la carte SIM"), validators=[Optional(), Length(max=22)])
    imei = StringField(_l("IMEI du terminal"), validators=[Optional(), Length(max=15)])


class SwapForm(FlaskForm):
    """R-18: swap a faulty handset on the same line."""

    imei = StringField(_l("IMEI du nouveau terminal"), validators=[DataRequired(), Length(max=15)])
    model = StringField(_l("Modèle"), validators=[Optional(), Length(max=80)])
    reported_at = DateTimeLocalField(
        _l("Panne signalée le (heure UTC)"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()]
    )
    cause = StringField(
        _l("Cause (technique, sans donnée personnelle)"), validators=[Optional(), Length(max=500)]
    )


class ActivateForm(FlaskForm):
    """Activation button."""


@bp.route("/", methods=["GET", "POST"])
@requires(Permission.LINE_ADMIN)
def index() -> Any:
    """List the lines; add one to stock."""
    platform, session = current_platform(), db_session()
    form = StockForm()
    if form.validate_on_submit():
        try:
            record = line_admin.add_to_stock(
                session,
                juridiction_insee=form.juridiction.data or "",
                order_no=int(form.order_no.data or 0),
                msisdn=form.msisdn.data or "",
                iccid=form.iccid.data or None,
                imei=form.imei.data or None,
                clock=platform.clock,
            )
        except FieldErrors as err:
            show_errors(form, err)
        except DomainError as err:
            flash(gettext(err.template, **err.params), "error")
        else:
            audit_here("line.add", object_type="line", object_id=record.line_id)
            flash(gettext("Ligne %(ref)s mise en stock.", ref=record.reference), "success")
            return redirect(url_for("lines_admin.index"))
    return render_template(
        "lines_admin/index.html",
        form=form,
        lines=lines.list_lines(session),
        activate_form=ActivateForm(),
    ), (400 if request.method == "POST" else 200)


@bp.post("/<int:line_id>/activer")
@requires(Permission.LINE_ADMIN)
def activate(line_id: int) -> Any:
    """Activate a line in stock ("en attente d'affectation")."""
    platform, session = current_platform(), db_session()
    line = policy.get_scoped(session, g.user, Line, line_id)
    if ActivateForm().validate_on_submit():
        record = next(a for a in line.assignments if a.is_current)
        line_admin.activate(session, record, user_id=g.user.id, clock=platform.clock)
        audit_here("line.activate", object_type="line", object_id=line.id)
        flash(gettext("Ligne %(ref)s activée.", ref=record.reference), "success")
    return redirect(url_for("lines_admin.index"))


@bp.route("/<int:line_id>/echange", methods=["GET", "POST"])
@requires(Permission.LINE_ADMIN)
def swap(line_id: int) -> Any:
    """R-18: swap the handset, keeping the line and its reference; the delay is recorded."""
    platform, session = current_platform(), db_session()
    line = policy.get_scoped(session, g.user, Line, line_id)
    form = SwapForm()
    if form.validate_on_submit():
        from datetime import UTC

        try:
            result = line_admin.swap_terminal(
                session,
                line,
                new_imei=form.imei.data or "",
                model=form.model.data or "",
                reported_at=form.reported_at.data.replace(tzinfo=UTC),
                cause=form.cause.data or "",
                deadline_hours=platform.settings.retention.swap_deadline_hours,
                clock=platform.clock,
            )
        except FieldErrors as err:
            show_errors(form, err)
        else:
            audit_here(
                "line.swap", object_type="line", object_id=line.id, details={"late": result.is_late}
            )
            hours = round(result.delay.total_seconds() / 3600, 1)
            if result.is_late:
                flash(
                    gettext("Échange enregistré, hors délai de 24 h (%(h)s h).", h=hours), "warning"
                )
            else:
                flash(gettext("Échange enregistré en %(h)s h.", h=hours), "success")
            return redirect(url_for("lines_admin.index"))
    return render_template(
        "lines_admin/swap.html", form=form, line=line, swaps=line_admin.swaps_of(session, line)
    ), (400 if request.method == "POST" else 200)


def init_app(app: Flask) -> None:
    """Register the line administration blueprint."""
    app.register_blueprint(bp)
