"""Administration of police/gendarmerie units and zones (R-25): import, edit, history."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from dispatch_ui.security import requires
from tgd.db.models.forces import ForceUnit
from tgd.http import commit, current_platform, db_session, request_reader
from tgd.services import zones as zones_service
from tgd.services.policy import Permission

bp = Blueprint("zones", __name__, url_prefix="/admin/zones")


class ImportForm(FlaskForm):
    """A GeoJSON file of zones."""

    geojson = FileField(_l("Fichier GeoJSON"), validators=[FileRequired()])
    accept_overlaps = BooleanField(_l("J'ai vérifié les chevauchements signalés et je les accepte"))


class UnitForm(FlaskForm):
    """A unit's name and numbers."""

    name = StringField(_l("Nom de l'unité"), validators=[DataRequired(), Length(max=160)])
    priority_number = StringField(
        _l("Numéro de la ligne prioritaire"), validators=[DataRequired(), Length(max=20)]
    )
    callback_number = StringField(
        _l("Numéro d'appel de l'unité (contre-appel)"), validators=[Length(max=20)]
    )
    is_active = BooleanField(_l("Unité active"))


@bp.get("/")
@requires(Permission.ZONE_ADMIN)
def index() -> Any:
    """Units with their zone in force and the import form."""
    return render_template("zones/index.html", form=ImportForm(), **_listing())


@bp.post("/import")
@requires(Permission.ZONE_ADMIN)
def import_zones() -> Any:
    """Check a GeoJSON file; apply it when valid and overlaps, if any, are accepted."""
    form = ImportForm()
    if not form.validate_on_submit():
        return render_template("zones/index.html", form=form, **_listing()), 400
    text = form.geojson.data.read(5 * 1024 * 1024 + 1).decode("utf-8", errors="replace")
    plan = zones_service.plan_import(request_reader(), text)  # read only: no write lock held
    if not plan.is_valid or (plan.overlaps and not form.accept_overlaps.data):
        return render_template("zones/index.html", form=form, plan=plan, **_listing()), 400
    count = zones_service.apply_import(db_session(), plan, g.user, clock=current_platform().clock)
    commit()
    flash(
        gettext(
            "%(n)s zone(s) importée(s) ; les précédentes sont conservées dans l'historique.",
            n=count,
        ),
        "success",
    )
    return redirect(url_for("zones.index"))


def _listing() -> dict[str, Any]:
    session = db_session()
    return {
        "units": zones_service.list_units(session),
        "in_force": zones_service.units_with_zone(session),
    }


@bp.get("/export.geojson")
@requires(Permission.ZONE_ADMIN)
def export() -> Any:
    """The zones in force, to edit in a GIS tool and re-import."""
    return jsonify(zones_service.export_geojson(db_session()))


@bp.route("/unites/<int:unit_id>", methods=["GET", "POST"])
@requires(Permission.ZONE_ADMIN)
def unit(unit_id: int) -> Any:
    """Edit a unit; show its zone and number history."""
    session = db_session()
    found = zones_service.get_unit(session, unit_id)
    form = UnitForm(obj=found)
    if request.method == "POST" and form.validate_on_submit():
        _update_unit(found, form)
        flash(gettext("Unité mise à jour."), "success")
        return redirect(url_for("zones.unit", unit_id=unit_id))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "zones/unit.html",
        unit=found,
        form=form,
        numbers=zones_service.number_history(session, unit_id),
        history=zones_service.zone_history(session, unit_id),
    ), status


def _update_unit(found: ForceUnit, form: UnitForm) -> None:
    """Record the unit's name, numbers and activity as typed on the form."""
    zones_service.update_unit(
        db_session(),
        found,
        g.user,
        name=form.name.data or "",
        priority_number=form.priority_number.data or "",
        callback_number=form.callback_number.data or "",
        is_active=bool(form.is_active.data),
        clock=current_platform().clock,
    )


def init_app(app: Flask) -> None:
    """Register the zones administration."""
    app.register_blueprint(bp)
