"""Call restrictions for administrators (Annexe 2 I.1): allow-lists per line, the carrier's CSV.

Administrators set or lift a line's restriction at the parquet's request; every
change and every reading of the numbers is audited (the numbers are third
parties' personal data and never appear in the audit details).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from dispatch_ui.flashes import flash_refusal
from dispatch_ui.security import audit_read, reads_personal_data, requires
from tgd.db.models.lines import Line
from tgd.domain.errors import DomainError
from tgd.http import current_platform, db_session
from tgd.services import policy, restrictions
from tgd.services.policy import Permission

bp = Blueprint("restrictions", __name__, url_prefix="/admin/restrictions")
LIFT = "lever"  # the lifting form's prefix: its fields differ from the setting form's


class RequestForm(FlaskForm):
    """The parquet's request behind a change (reference and date, no names)."""

    request_ref = StringField(
        _l("Référence de la demande du parquet (courrier, navette)"),
        validators=[DataRequired(), Length(max=120)],
    )
    requested_on = DateField(_l("Date de la demande"), validators=[DataRequired()])


class RestrictionForm(RequestForm):
    """The numbers the line may call and text, one per line."""

    voice = TextAreaField(
        _l("Numéros autorisés en appel (un par ligne)"), validators=[Optional(), Length(max=2000)]
    )
    sms = TextAreaField(
        _l("Numéros autorisés en SMS (un par ligne)"), validators=[Optional(), Length(max=2000)]
    )


class LiftForm(RequestForm):
    """Lift the restriction."""


@bp.get("/")
@requires(Permission.LINE_ADMIN)
def index() -> Any:
    """Lines with their restriction in force (counts only) and the carrier's export."""
    scope = policy.juridiction_scope(g.user)
    views = restrictions.list_lines(db_session(), juridiction_ids=scope)
    return render_template("restrictions/index.html", views=views)


@bp.route("/lignes/<int:line_id>", methods=["GET", "POST"])
@requires(Permission.LINE_ADMIN)
@reads_personal_data
def line(line_id: int) -> Any:
    """Show a line's lists and history; set new lists at the parquet's request."""
    found = policy.get_scoped(db_session(), g.user, Line, line_id)
    form = RestrictionForm()
    if form.validate_on_submit():
        try:
            _set_restriction(found, form)
        except DomainError as err:
            flash_refusal(err)
        else:
            flash(gettext("Restriction enregistrée : envoyez la liste à l'opérateur."), "success")
            return redirect(url_for("restrictions.line", line_id=line_id))
    return _line_page(found, form)


def _line_page(found: Line, form: RestrictionForm) -> Any:
    """The line's lists (their reading audited) and history; a first visit fills the form."""
    detail = restrictions.describe(db_session(), found, cipher=current_platform().cipher)
    if detail.allow_list is not None:
        audit_read("line.restriction_read", object_type="line", object_id=found.id)
    if request.method == "GET" and detail.allow_list is not None:
        form.voice.data = "\n".join(sorted(detail.allow_list.voice))
        form.sms.data = "\n".join(sorted(detail.allow_list.sms))
    return render_template(
        "restrictions/line.html",
        d=detail,
        form=form,
        lift_form=LiftForm(prefix=LIFT, formdata=None),
    ), (400 if request.method == "POST" else 200)


def _set_restriction(found: Line, form: RestrictionForm) -> None:
    """Set the line's allowed numbers, one a line in each box, as the parquet asked."""
    platform = current_platform()
    restrictions.set_restriction(
        db_session(),
        found,
        voice=(form.voice.data or "").splitlines(),
        sms=(form.sms.data or "").splitlines(),
        request_ref=form.request_ref.data or "",
        requested_on=form.requested_on.data,
        user_id=g.user.id,
        cipher=platform.cipher,
        clock=platform.clock,
    )


@bp.post("/lignes/<int:line_id>/lever")
@requires(Permission.LINE_ADMIN)
def lift(line_id: int) -> Any:
    """Lift the line's restriction at the parquet's request."""
    platform, session = current_platform(), db_session()
    found = policy.get_scoped(session, g.user, Line, line_id)
    form = LiftForm(prefix=LIFT)
    if not form.validate_on_submit():
        flash(gettext("Indiquez la référence et la date de la demande du parquet."), "error")
        return redirect(url_for("restrictions.line", line_id=line_id))
    try:
        restrictions.lift_restriction(
            session,
            found,
            request_ref=form.request_ref.data or "",
            requested_on=form.requested_on.data,
            user_id=g.user.id,
            clock=platform.clock,
        )
    except DomainError as err:
        flash_refusal(err)
    else:
        flash(gettext("Restriction levée : envoyez la liste à l'opérateur."), "success")
    return redirect(url_for("restrictions.line", line_id=line_id))


@bp.get("/export.csv")
@requires(Permission.LINE_ADMIN)
@reads_personal_data
def export() -> Any:
    """The carrier's list of restricted lines and allowed numbers (CSV, docs/lines.md)."""
    platform = current_platform()
    settings = platform.settings
    rows = restrictions.carrier_rows(
        db_session(),
        cipher=platform.cipher,
        gateway=settings.gateway,
        restrictions=settings.restrictions,
    )
    audit_read(
        "line.restriction_export", details={"lines": len({r[0] for r in rows}), "rows": len(rows)}
    )
    response = Response(restrictions.carrier_csv(rows), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = "attachment; filename=restrictions-appels.csv"
    return response


def init_app(app: Flask) -> None:
    """Register the call restrictions administration."""
    app.register_blueprint(bp)
