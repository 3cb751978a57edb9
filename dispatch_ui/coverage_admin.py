"""Network coverage (Annexe 2 I.3): import of the carrier's maps and reference layers, figures,
and the coverage layer of the console map."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.utils import secure_filename
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from dispatch_ui.security import requires
from tgd.db.models.coverage import CoverageLayer
from tgd.domain.coverage import LAYER_LABELS
from tgd.http import commit, current_platform, db_session, request_reader
from tgd.services import coverage as coverage_service
from tgd.services.policy import Permission

bp = Blueprint("coverage", __name__, url_prefix="/admin/couverture")
api = Blueprint("coverage_api", __name__, url_prefix="/api/console")
MAX_BYTES = 15 * 1024 * 1024  # the app refuses bodies over 16 MiB; larger files: tgd coverage


class ImportForm(FlaskForm):
    """A GeoJSON layer for a territory."""

    territory = SelectField(_l("Territoire"), choices=[])
    kind = SelectField(
        _l("Couche"),
        choices=[SelectChoice(k.value, _l(label)) for k, label in LAYER_LABELS.items()],
    )
    geojson = FileField(_l("Fichier GeoJSON (WGS 84)"), validators=[FileRequired()])


def cache() -> coverage_service.CoverageCache:
    """Return the app's coverage cache (the console's index and map layer)."""
    found: coverage_service.CoverageCache = current_app.extensions.setdefault(
        "tgd.coverage", coverage_service.CoverageCache()
    )
    return found


def _form() -> ImportForm:
    form = ImportForm()
    territories = coverage_service.territories(db_session())
    form.territory.choices = [SelectChoice(t.code, f"{t.code} — {t.name}") for t in territories]
    return form


def _page(form: ImportForm, plan: coverage_service.ImportPlan | None = None) -> str:
    session = db_session()
    return render_template(
        "coverage/index.html",
        form=form,
        plan=plan,
        summary=coverage_service.summary(session),
        history=coverage_service.history(session),
        labels=LAYER_LABELS,
    )


@bp.get("/")
@requires(Permission.ZONE_ADMIN)
def index() -> Any:
    """The coverage in force per territory, its three figures, imports and their history."""
    return _page(_form())


@bp.post("/import")
@requires(Permission.ZONE_ADMIN)
def import_layer() -> Any:
    """Check a GeoJSON layer; apply it when valid (the previous one stays in the history)."""
    form = _form()
    if not form.validate_on_submit():
        return _page(form), 400
    raw = form.geojson.data.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        flash(gettext("Fichier trop volumineux pour la page : utilisez « tgd coverage import »."))
        return _page(form), 400
    plan = _plan(form, raw)
    if not plan.is_valid:
        return _page(form, plan), 400
    layer = _apply(form, plan)
    commit()
    flash(
        gettext(
            "Couche importée (%(n)s entité(s)) ; la précédente est conservée dans l'historique.",
            n=layer.features,
        ),
        "success",
    )
    return redirect(url_for("coverage.index"))


def _plan(form: ImportForm, raw: bytes) -> coverage_service.ImportPlan:
    """Check the uploaded layer for the territory and kind chosen on the form."""
    return coverage_service.plan_import(  # a long check: read only, no write lock held
        request_reader(),
        raw.decode("utf-8", errors="replace"),
        territory_code=form.territory.data or "",
        kind=form.kind.data or "",
    )


def _apply(form: ImportForm, plan: coverage_service.ImportPlan) -> CoverageLayer:
    """Apply a valid layer, recorded under the uploaded file's name and the user's id."""
    return coverage_service.apply_import(
        db_session(),
        plan,
        source_name=secure_filename(form.geojson.data.filename or ""),
        user_id=g.user.id,
        clock=current_platform().clock,
    )


@api.get("/coverage")
@requires(Permission.CONSOLE)
def console_layer() -> Any:
    """The carrier's coverage in force, simplified, as GeoJSON for the console map."""
    return jsonify(cache().geojson(db_session()))


def init_app(app: Flask) -> None:
    """Register the coverage administration and the console's coverage layer."""
    app.register_blueprint(bp)
    app.register_blueprint(api)
    app.extensions.setdefault("tgd.coverage", coverage_service.CoverageCache())
