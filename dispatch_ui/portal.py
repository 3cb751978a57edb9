"""The prosecutors' portal (R-10..R-15, R-27): navettes, receipts, cases, messages, exports.

A parquet user sees only its own courts (``policy.scoped``/``get_scoped``).
The forms and their mapping to domain values live in ``dispatch_ui.portal_forms``
(shared with the operators' keying page). Every read of nominative content is
audited.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext

from dispatch_ui.portal_forms import (
    SLUG_OF,
    SLUGS,
    ExportDownloadForm,
    content_of,
    fill_form,
    navette_form,
    retention_form,
    show_errors,
)
from dispatch_ui.security import audit_read, reads_personal_data, reauthenticate, requires
from tgd.db.models.beneficiaries import BeneficiaryFile, FileExport
from tgd.db.models.navettes import Navette, ParquetMessage
from tgd.domain.errors import DomainError
from tgd.domain.lifecycle import FileState, NavetteKind, NavetteState
from tgd.domain.navettes import KIND_LABELS, STATE_LABELS, FieldErrors, NavetteContent
from tgd.http import current_platform, db_session, write_from_here
from tgd.services import cases, exports, navettes, policy
from tgd.services import retention as retention_service
from tgd.services.policy import Permission

bp = Blueprint("portal", __name__, url_prefix="/parquet")


@bp.get("/")
@requires(Permission.NAVETTE_SUBMIT)
def index() -> Any:
    """The parquet's home: its navettes, its cases, alerts with police action, messages."""
    session = db_session()
    files = cases.list_files(session, g.user)
    closed = [f.id for f, _ in files if f.state in (FileState.CLOTURE,)]
    return render_template(
        "portal/index.html",
        navettes=navettes.list_for(session, g.user),
        files=files,
        alerts=cases.latest_alerts(session, g.user, limit=50),
        messages=navettes.messages_for(session, g.user),
        exports=exports.exports_of_files(session, closed),
        kinds=[(SLUG_OF[k], KIND_LABELS[k]) for k in NavetteKind],
        kind_labels=KIND_LABELS,
        state_labels=STATE_LABELS,
    )


def _draft_and_kind(slug: str, navette_id: int | None) -> tuple[Navette | None, NavetteKind]:
    """The draft being edited (its author's, still a draft) or none, and the navette's kind."""
    if navette_id is not None:
        draft = policy.get_scoped(db_session(), g.user, Navette, navette_id)
        if draft.state is not NavetteState.BROUILLON or draft.submitted_by_id != g.user.id:
            abort(404)
        return draft, draft.kind
    if slug not in SLUGS:
        abort(404)
    return None, SLUGS[slug]


@bp.route("/navettes/nouvelle/<slug>", methods=["GET", "POST"])
@bp.route("/navettes/<int:navette_id>/brouillon", methods=["GET", "POST"], defaults={"slug": ""})
@requires(Permission.NAVETTE_SUBMIT)
@reads_personal_data
def edit(slug: str, navette_id: int | None = None) -> Any:
    """Fill a navette; save it as a draft or send it (validated server-side)."""
    platform, session = current_platform(), db_session()
    draft, kind = _draft_and_kind(slug, navette_id)
    form = navette_form(kind, policy.juridiction_scope(g.user))
    if request.method == "GET" and draft is not None:
        fill_form(form, navettes.read_content(session, draft, cipher=platform.cipher))
        audit_read("navette.read", object_type="navette", object_id=draft.id)
    if form.validate_on_submit():
        content = content_of(kind, form)
        if request.form.get("action") == "brouillon":
            return _save_draft(content, draft)
        try:
            return _submit(content, draft)
        except FieldErrors as err:
            show_errors(form, err)  # the 400 answer rolls the request back: nothing written
    return render_template(
        "portal/navette.html", form=form, kind=kind, kind_label=KIND_LABELS[kind], draft=draft
    ), (400 if request.method == "POST" else 200)


def _save_draft(content: NavetteContent, draft: Navette | None) -> Any:
    platform = current_platform()
    saved = navettes.save_draft(
        db_session(),
        content,
        user=g.user,
        draft=draft,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    flash(gettext("Brouillon enregistré."), "success")
    return redirect(url_for("portal.edit", navette_id=saved.id))


def _submit(content: NavetteContent, draft: Navette | None) -> Any:
    platform = current_platform()
    navette = navettes.submit(
        db_session(),
        content,
        user=g.user,
        draft=draft,
        deadline_minutes=platform.settings.retention.navette_deadline_minutes,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    return redirect(url_for("portal.receipt", navette_id=navette.id))


@bp.get("/navettes/<int:navette_id>/accuse")
@requires(Permission.NAVETTE_READ)
@reads_personal_data
def receipt(navette_id: int) -> Any:
    """The receipt: number, kind, time of reception (R-10), state."""
    navette = policy.get_scoped(db_session(), g.user, Navette, navette_id)
    if navette.received_at is None:
        abort(404)
    audit_read("navette.receipt", object_type="navette", object_id=navette.id)
    return render_template(
        "portal/receipt.html",
        navette=navette,
        kind_label=KIND_LABELS[navette.kind],
        state_label=STATE_LABELS[navette.state],
        timezone=navettes.court_timezone(db_session(), navette.juridiction_id),
    )


@bp.route("/dossiers/<int:file_id>/conservation", methods=["GET", "POST"])
@requires(Permission.NAVETTE_SUBMIT)
def retention(file_id: int) -> Any:
    """R-16b: the parquet puts a file under legal hold or extends its positions' retention."""
    platform, session = current_platform(), db_session()
    file = policy.get_scoped(session, g.user, BeneficiaryFile, file_id)
    periods = platform.settings.retention
    form = retention_form(file, periods)
    if request.method == "POST" and form.validate_on_submit():
        actor = f"user:{g.user.id}"
        days = int(form.positions_days.data) if form.positions_days.data else None
        retention_service.set_legal_hold(
            session, file, on=bool(form.legal_hold.data), actor=actor, clock=platform.clock
        )
        retention_service.set_positions_retention(
            session, file, days, settings=periods, actor=actor, clock=platform.clock
        )
        flash(gettext("Conservation du dossier %(n)s enregistrée.", n=file.number), "success")
        return redirect(url_for("portal.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("portal/retention.html", form=form, file=file, periods=periods), status


R = TypeVar("R", ParquetMessage, FileExport)


def _with_scoped_file(model: type[R], row_id: int) -> tuple[R, BeneficiaryFile]:
    """Fetch a row that belongs to a file, and that file if the user may see it (else 404)."""
    session = db_session()
    row = session.get(model, row_id)
    if row is None:
        abort(404)
    return row, policy.get_scoped(session, g.user, BeneficiaryFile, row.file_id)


@bp.get("/messages/<int:message_id>")
@requires(Permission.FILE_READ, Permission.PARQUET_DOCUMENTS)
@reads_personal_data
def message(message_id: int) -> Any:
    """R-14: read information sent by the centre about one of the parquet's files."""
    platform = current_platform()
    found, file = _with_scoped_file(ParquetMessage, message_id)
    session = write_from_here()  # the first reading marks the message read
    text = navettes.read_message(
        session, found, user=g.user, cipher=platform.cipher, clock=platform.clock
    )
    audit_read("parquet_message.read", object_type="parquet_message", object_id=found.id)
    return render_template("portal/message.html", message=found, file=file, text=text)


@bp.route("/exports/<int:export_id>", methods=["GET", "POST"])
@requires(Permission.FILE_READ, Permission.PARQUET_DOCUMENTS)
@reads_personal_data
def download(export_id: int) -> Any:
    """R-15: download the closure export of one of the parquet's files (E-08, audited)."""
    export, file = _with_scoped_file(FileExport, export_id)
    form = ExportDownloadForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("portal/export.html", form=form, export=export, file=file), status
    try:
        reauthenticate(form.password.data or "", purpose="file.export_download")
    except DomainError as err:
        error = gettext(err.template, **err.params)
        page = render_template(
            "portal/export.html", form=form, export=export, file=file, error=error
        )
        return page, err.http_status
    return _send_export(export, file)


def _send_export(export: FileExport, file: BeneficiaryFile) -> Response:
    """Decrypt the export, audit its download and send it as an attachment."""
    platform = current_platform()
    content = exports.read_export(db_session(), export, cipher=platform.cipher)
    audit_read(
        "file.export_download",
        object_type="file_export",
        object_id=export.id,
        details={"format": export.format},
    )
    response = Response(content, mimetype=exports.FORMATS[export.format])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="fiche-{file.number}.{export.format}"'
    )
    return response


def init_app(app: Flask) -> None:
    """Register the portal blueprint."""
    app.register_blueprint(bp)
