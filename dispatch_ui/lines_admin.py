"""Line and terminal administration for administrators: stock, activation, swap (R-01, R-18).

Also the terminal inventory: the supplier's delivery note uploaded and imported
all or nothing (the errors listed with their line numbers), and every handset
with its SIM, number, warranty and line. Times typed on the swap form are the
line's territory's wall clock, and the form says which zone (item 6).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateTimeLocalField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from dispatch_ui.flashes import flash_refusal, flash_swap_delay
from dispatch_ui.formatting import zone_label
from dispatch_ui.portal_forms import show_errors
from dispatch_ui.security import requires
from tgd.db.models.lines import Line, LineAssignment
from tgd.domain.errors import N_, DomainError, ValidationError
from tgd.domain.inventory import DeliveryRejected
from tgd.domain.localtime import from_local
from tgd.domain.navettes import FieldErrors
from tgd.http import current_platform, db_session
from tgd.services import inventory, line_admin, lines, policy
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

    imei = StringField(_l("IMEI du nouveau terminal"), validators=[DataRequired(), Length(max=20)])
    model = StringField(_l("Modèle"), validators=[Optional(), Length(max=80)])
    reported_at = DateTimeLocalField(
        _l("Panne signalée le"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()]
    )
    cause = StringField(
        _l("Cause (technique, sans donnée personnelle)"), validators=[Optional(), Length(max=500)]
    )


class ActivateForm(FlaskForm):
    """Activation button."""


class DeliveryForm(FlaskForm):
    """A supplier's delivery note (CSV: imei,iccid,msisdn,model,warranty_end)."""

    note = FileField(_l("Bordereau de livraison (CSV)"), validators=[FileRequired()])


@bp.route("/", methods=["GET", "POST"])
@requires(Permission.LINE_ADMIN)
def index() -> Any:
    """List the lines; add one to stock."""
    session = db_session()
    form = StockForm()
    if form.validate_on_submit():
        try:
            record = _add_to_stock(form)
        except FieldErrors as err:
            show_errors(form, err)
        except DomainError as err:
            flash_refusal(err)
        else:
            flash(gettext("Ligne %(ref)s mise en stock.", ref=record.reference), "success")
            return redirect(url_for("lines_admin.index"))
    return render_template(
        "lines_admin/index.html",
        form=form,
        lines=lines.list_lines(session),
        activate_form=ActivateForm(),
    ), (400 if request.method == "POST" else 200)


def _add_to_stock(form: StockForm) -> LineAssignment:
    """Put the line typed on the form in stock (SIM and handset optional)."""
    return line_admin.add_to_stock(
        db_session(),
        juridiction_insee=form.juridiction.data or "",
        order_no=int(form.order_no.data or 0),
        msisdn=form.msisdn.data or "",
        iccid=form.iccid.data or None,
        imei=form.imei.data or None,
        actor=f"user:{g.user.id}",
        clock=current_platform().clock,
    )


@bp.post("/<int:line_id>/activer")
@requires(Permission.LINE_ADMIN)
def activate(line_id: int) -> Any:
    """Activate a line in stock ("en attente d'affectation")."""
    platform, session = current_platform(), db_session()
    line = policy.get_scoped(session, g.user, Line, line_id)
    if ActivateForm().validate_on_submit():
        record = next(a for a in line.assignments if a.is_current)
        line_admin.activate(
            session, record, user_id=g.user.id, actor=f"user:{g.user.id}", clock=platform.clock
        )
        flash(gettext("Ligne %(ref)s activée.", ref=record.reference), "success")
    return redirect(url_for("lines_admin.index"))


@bp.route("/<int:line_id>/echange", methods=["GET", "POST"])
@requires(Permission.LINE_ADMIN)
def swap(line_id: int) -> Any:
    """R-18: swap the handset, keeping the line and its reference; the delay is recorded."""
    session = db_session()
    line = policy.get_scoped(session, g.user, Line, line_id)
    territory = line.juridiction.territory
    form = SwapForm()
    if form.validate_on_submit():
        try:
            return _swap(line, form)
        except FieldErrors as err:
            show_errors(form, err)
    return render_template(
        "lines_admin/swap.html",
        form=form,
        line=line,
        swaps=line_admin.swaps_of(session, line),
        timezone=territory.timezone,
        zone=zone_label(territory.name, territory.timezone),
        stock=inventory.stock_terminals(session),
    ), (400 if request.method == "POST" else 200)


def _swap(line: Line, form: SwapForm) -> Any:
    """Record the swap (the report time read in the territory's zone) and say how long it took."""
    platform = current_platform()
    try:
        reported = from_local(form.reported_at.data, line.juridiction.territory.timezone)
    except ValidationError as exc:
        raise FieldErrors({"reported_at": [(exc.template, exc.params)]}) from None
    result = line_admin.swap_terminal(
        db_session(),
        line,
        new_imei=form.imei.data or "",
        model=form.model.data or "",
        reported_at=reported,
        cause=form.cause.data or "",
        deadline_hours=platform.settings.retention.swap_deadline_hours,
        user_id=g.user.id,
        actor=f"user:{g.user.id}",
        clock=platform.clock,
    )
    flash_swap_delay(
        result,
        late=N_("Échange enregistré, hors délai : %(h)s heures ouvrées (24 au plus)."),
        in_time=N_("Échange enregistré en %(h)s heures ouvrées."),
    )
    return redirect(url_for("lines_admin.index"))


@bp.route("/terminaux", methods=["GET", "POST"])
@requires(Permission.LINE_ADMIN)
def terminals() -> Any:
    """The handsets (in service, in stock, faulty) and the import of a delivery note."""
    session = db_session()
    form = DeliveryForm()
    errors: list[tuple[int, str]] = []
    if form.validate_on_submit():
        try:
            return _import_delivery(form)
        except DeliveryRejected as err:
            # The 400 answer rolls the request back: nothing of the note is imported.
            errors = [(e.line, gettext(e.template, **e.params)) for e in err.errors]
    failed = request.method == "POST"
    return render_template(
        "lines_admin/terminals.html",
        form=form,
        errors=errors,
        terminals=inventory.list_terminals(session),
        deliveries=inventory.list_deliveries(session),
    ), (400 if failed else 200)


def _import_delivery(form: DeliveryForm) -> Any:
    """Import the supplier's delivery note (``DeliveryRejected`` names the bad lines)."""
    upload = form.note.data
    delivery = inventory.import_delivery(
        db_session(),
        upload.read(),
        filename=upload.filename or "bordereau.csv",
        actor=f"user:{g.user.id}",
        clock=current_platform().clock,
    )
    flash(
        gettext(
            "Bordereau importé : %(t)s terminal(s), %(s)s carte(s) SIM.",
            t=delivery.terminals,
            s=delivery.sims,
        ),
        "success",
    )
    return redirect(url_for("lines_admin.terminals"))


def init_app(app: Flask) -> None:
    """Register the line administration blueprint."""
    app.register_blueprint(bp)
