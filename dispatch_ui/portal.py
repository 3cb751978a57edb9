"""The prosecutors' portal (R-10..R-15, R-27): navettes, receipts, cases, messages, exports.

A parquet user sees only its own courts (``policy.scoped``/``get_scoped``).
The four navette forms are shared with the operators' keying page
(``dispatch_ui.intake``): ``content_of`` turns a form into the domain value,
``show_errors`` puts the service's field-level French messages back on the
form. Every read of nominative content is audited.
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
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from dispatch_ui.security import audit_here, requires
from tgd.db.models.alerts import Alert
from tgd.db.models.beneficiaries import BeneficiaryFile, FileExport
from tgd.db.models.navettes import Navette, ParquetMessage
from tgd.db.models.users import Organisation, OrganisationKind
from tgd.domain.beneficiary import Address, PersonalData
from tgd.domain.lifecycle import FileState, NavetteKind, NavetteState
from tgd.domain.navettes import (
    KIND_LABELS,
    STATE_LABELS,
    Attribution,
    FieldErrors,
    NavetteContent,
    TemporaryInformation,
    Termination,
    Update,
)
from tgd.http import current_platform, db_session, write_from_here
from tgd.services import cases, exports, navettes, policy
from tgd.services import retention as retention_service
from tgd.services.policy import Permission

bp = Blueprint("portal", __name__, url_prefix="/parquet")

SLUGS = {
    "attribution": NavetteKind.ATTRIBUTION,
    "mise-a-jour": NavetteKind.MISE_A_JOUR,
    "information-ponctuelle": NavetteKind.INFORMATION_PONCTUELLE,
    "resiliation": NavetteKind.RESILIATION,
}
SLUG_OF = {kind: slug for slug, kind in SLUGS.items()}
TEXT = [Optional(), Length(max=2000)]
SHORT = [Optional(), Length(max=200)]


class _NavetteForm(FlaskForm):
    reference = StringField(
        _l("Référence du terminal"),
        validators=[Optional(), Length(max=64)],
        description=_l("Par exemple M 75 75056 05 1"),
    )


class AttributionForm(_NavetteForm):
    """Attribution (R-10): who, where, other numbers, association, remarks."""

    last_name = StringField(_l("Nom"), validators=SHORT)
    first_name = StringField(_l("Prénom"), validators=SHORT)
    birth_date = DateField(_l("Date de naissance"), validators=[Optional()])
    residence_line = StringField(_l("Adresse du domicile"), validators=SHORT)
    residence_postcode = StringField(_l("Code postal du domicile"), validators=SHORT)
    residence_city = StringField(_l("Commune du domicile"), validators=SHORT)
    workplace_line = StringField(_l("Adresse du lieu de travail"), validators=SHORT)
    workplace_postcode = StringField(_l("Code postal du lieu de travail"), validators=SHORT)
    workplace_city = StringField(_l("Commune du lieu de travail"), validators=SHORT)
    workplace_hours = StringField(_l("Horaires de travail"), validators=SHORT)
    other_phones = StringField(
        _l("Autres numéros de téléphone"),
        validators=SHORT,
        description=_l("Séparés par des virgules"),
    )
    magistrate = StringField(_l("Magistrat référent"), validators=SHORT)
    association_id = SelectField(_l("Association référente"), coerce=int)
    association_contact = StringField(_l("Contact à l'association"), validators=SHORT)
    remarks = TextAreaField(_l("Remarques pour les téléassisteurs"), validators=TEXT)


class UpdateForm(_NavetteForm):
    """Mise à jour (R-12): only the fields filled in change."""

    last_name = StringField(_l("Nouveau nom"), validators=SHORT)
    first_name = StringField(_l("Nouveau prénom"), validators=SHORT)
    residence_line = StringField(_l("Nouvelle adresse du domicile"), validators=SHORT)
    residence_postcode = StringField(_l("Code postal du domicile"), validators=SHORT)
    residence_city = StringField(_l("Commune du domicile"), validators=SHORT)
    workplace_line = StringField(_l("Nouvelle adresse du lieu de travail"), validators=SHORT)
    workplace_postcode = StringField(_l("Code postal du lieu de travail"), validators=SHORT)
    workplace_city = StringField(_l("Commune du lieu de travail"), validators=SHORT)
    workplace_hours = StringField(_l("Horaires de travail"), validators=SHORT)
    other_phones = StringField(
        _l("Autres numéros de téléphone (remplacent les précédents)"), validators=SHORT
    )
    magistrate = StringField(_l("Magistrat référent"), validators=SHORT)
    association_contact = StringField(_l("Contact à l'association"), validators=SHORT)
    remarks = TextAreaField(_l("Remarques pour les téléassisteurs"), validators=TEXT)


class TemporaryForm(_NavetteForm):
    """Information ponctuelle (R-13) with its validity period."""

    start = DateField(_l("Du"), validators=[Optional()])
    end = DateField(_l("Au"), validators=[Optional()])
    content = TextAreaField(
        _l("Information (séjour, déplacement, adresse temporaire…)"), validators=TEXT
    )


class TerminationForm(_NavetteForm):
    """Résiliation (R-15): reference, name, date."""

    last_name = StringField(_l("Nom de la personne"), validators=SHORT)
    end_date = DateField(_l("Date de fin de la mesure"), validators=[Optional()])


class MessageForm(FlaskForm):
    """R-14: new information for the parquet référent."""

    text = TextAreaField(
        _l("Information à transmettre"), validators=[DataRequired(), Length(max=4000)]
    )


FORMS: dict[NavetteKind, type[_NavetteForm]] = {
    NavetteKind.ATTRIBUTION: AttributionForm,
    NavetteKind.MISE_A_JOUR: UpdateForm,
    NavetteKind.INFORMATION_PONCTUELLE: TemporaryForm,
    NavetteKind.RESILIATION: TerminationForm,
}


def _s(form: Any, name: str) -> str:
    return str(getattr(form, name).data or "").strip()


def _address(form: Any, prefix: str) -> Address:
    return Address(
        _s(form, f"{prefix}_line"), _s(form, f"{prefix}_postcode"), _s(form, f"{prefix}_city")
    )


def _phones(form: Any) -> tuple[str, ...]:
    return tuple(p.strip() for p in _s(form, "other_phones").split(",") if p.strip())


def content_of(kind: NavetteKind, form: Any) -> NavetteContent:
    """Turn a submitted form into the navette's content."""
    reference = _s(form, "reference")
    if kind is NavetteKind.ATTRIBUTION:
        personal = PersonalData(
            last_name=_s(form, "last_name"),
            first_name=_s(form, "first_name"),
            birth_date=form.birth_date.data,
            residence=_address(form, "residence"),
            workplace=_address(form, "workplace"),
            workplace_hours=_s(form, "workplace_hours"),
            other_phones=_phones(form),
            magistrate=_s(form, "magistrate"),
            association_contact=_s(form, "association_contact"),
            remarks=_s(form, "remarks"),
        )
        return Attribution(reference, personal, form.association_id.data or None)
    if kind is NavetteKind.MISE_A_JOUR:
        changes: dict[str, Any] = {
            name: _s(form, name)
            for name in (
                "last_name",
                "first_name",
                "workplace_hours",
                "magistrate",
                "association_contact",
                "remarks",
            )
        }
        for prefix in ("residence", "workplace"):
            address = _address(form, prefix)
            if not address.is_empty:
                changes[prefix] = {
                    "line": address.line,
                    "postcode": address.postcode,
                    "city": address.city,
                }
        changes["other_phones"] = list(_phones(form))
        return Update(reference, {k: v for k, v in changes.items() if v})
    if kind is NavetteKind.INFORMATION_PONCTUELLE:
        return TemporaryInformation(reference, form.start.data, form.end.data, _s(form, "content"))
    return Termination(reference, _s(form, "last_name"), form.end_date.data)


def fill_form(form: Any, content: NavetteContent) -> None:
    """Put a navette's content into its form (drafts, keying, file creation)."""
    form.reference.data = content.reference
    if isinstance(content, Attribution):
        p = content.personal
        for name in (
            "last_name",
            "first_name",
            "workplace_hours",
            "magistrate",
            "association_contact",
            "remarks",
        ):
            getattr(form, name).data = getattr(p, name)
        form.birth_date.data = p.birth_date
        for prefix in ("residence", "workplace"):
            address = getattr(p, prefix)
            getattr(form, f"{prefix}_line").data = address.line
            getattr(form, f"{prefix}_postcode").data = address.postcode
            getattr(form, f"{prefix}_city").data = address.city
        form.other_phones.data = ", ".join(p.other_phones)
        form.association_id.data = content.association_id or 0
    elif isinstance(content, Update):
        for name, value in content.changes.items():
            if name in ("residence", "workplace") and isinstance(value, dict):
                for part in ("line", "postcode", "city"):
                    getattr(form, f"{name}_{part}").data = value.get(part, "")
            elif name == "other_phones":
                form.other_phones.data = ", ".join(value)
            elif hasattr(form, name):
                getattr(form, name).data = value
    elif isinstance(content, TemporaryInformation):
        form.start.data, form.end.data, form.content.data = (
            content.start,
            content.end,
            content.content,
        )
    else:
        form.last_name.data, form.end_date.data = content.last_name, content.end_date


def show_errors(form: Any, err: FieldErrors) -> None:
    """Put the service's field errors on the form (others go to a flash message)."""
    for name, messages in err.errors.items():
        target = getattr(form, name, None)
        texts = [gettext(t, **p) for t, p in messages]
        if target is None:
            for text in texts:
                flash(text, "error")
        else:
            target.errors = [*list(target.errors or []), *texts]


def association_choices(juridiction_ids: frozenset[int] | None) -> list[tuple[int, str]]:
    """List the associations a file may refer to (of the user's courts)."""
    query = select(Organisation).where(Organisation.kind == OrganisationKind.ASSOCIATION)
    orgs = db_session().scalars(query.order_by(Organisation.name)).all()
    if juridiction_ids is not None:
        orgs = [o for o in orgs if any(j.id in juridiction_ids for j in o.juridictions)]
    return [(0, gettext("— aucune —")), *((o.id, o.name) for o in orgs)]


@bp.get("/")
@requires(Permission.NAVETTE_SUBMIT)
def index() -> Any:
    """The parquet's home: its navettes, its cases, alerts with police action, messages."""
    session = db_session()
    alerts = session.scalars(
        policy.visible_alerts(policy.scoped(select(Alert), g.user, Alert), g.user)
        .order_by(Alert.id.desc())
        .limit(50)
    ).all()
    files = cases.list_files(session, g.user)
    closed = [f.id for f, _ in files if f.state in (FileState.CLOTURE,)]
    exported = (
        session.scalars(
            select(FileExport).where(FileExport.file_id.in_(closed)).order_by(FileExport.id)
        ).all()
        if closed
        else []
    )
    return render_template(
        "portal/index.html",
        navettes=navettes.list_for(session, g.user),
        files=files,
        alerts=alerts,
        messages=navettes.messages_for(session, g.user),
        exports=exported,
        kinds=[(SLUG_OF[k], KIND_LABELS[k]) for k in NavetteKind],
        kind_labels=KIND_LABELS,
        state_labels=STATE_LABELS,
    )


def _form_for(kind: NavetteKind) -> Any:
    form = FORMS[kind]()
    if isinstance(form, AttributionForm):
        form.association_id.choices = association_choices(policy.juridiction_scope(g.user))
    return form


@bp.route("/navettes/nouvelle/<slug>", methods=["GET", "POST"])
@bp.route("/navettes/<int:navette_id>/brouillon", methods=["GET", "POST"], defaults={"slug": ""})
@requires(Permission.NAVETTE_SUBMIT)
def edit(slug: str, navette_id: int | None = None) -> Any:
    """Fill a navette; save it as a draft or send it (validated server-side)."""
    platform, session = current_platform(), db_session()
    draft = None
    if navette_id is not None:
        draft = policy.get_scoped(session, g.user, Navette, navette_id)
        if draft.state is not NavetteState.BROUILLON or draft.submitted_by_id != g.user.id:
            abort(404)
        kind = draft.kind
    elif slug in SLUGS:
        kind = SLUGS[slug]
    else:
        abort(404)
    form = _form_for(kind)
    if request.method == "GET" and draft is not None:
        fill_form(form, navettes.read_content(session, draft, cipher=platform.cipher))
        audit_here("navette.read", object_type="navette", object_id=draft.id)
    if form.validate_on_submit():
        content = content_of(kind, form)
        if request.form.get("action") == "brouillon":
            saved = navettes.save_draft(
                session,
                content,
                user=g.user,
                draft=draft,
                cipher=platform.cipher,
                clock=platform.clock,
            )
            audit_here("navette.draft", object_type="navette", object_id=saved.id)
            flash(gettext("Brouillon enregistré."), "success")
            return redirect(url_for("portal.edit", navette_id=saved.id))
        try:
            navette = navettes.submit(
                session,
                content,
                user=g.user,
                draft=draft,
                deadline_minutes=platform.settings.retention.navette_deadline_minutes,
                cipher=platform.cipher,
                clock=platform.clock,
            )
        except FieldErrors as err:
            show_errors(form, err)  # the 400 answer rolls the request back: nothing written
        else:
            audit_here(
                "navette.submit",
                object_type="navette",
                object_id=navette.id,
                details={"kind": kind.value},
            )
            return redirect(url_for("portal.receipt", navette_id=navette.id))
    return render_template(
        "portal/navette.html", form=form, kind=kind, kind_label=KIND_LABELS[kind], draft=draft
    ), (400 if request.method == "POST" else 200)


@bp.get("/navettes/<int:navette_id>/accuse")
@requires(Permission.NAVETTE_READ)
def receipt(navette_id: int) -> Any:
    """The receipt: number, kind, time of reception (R-10), state."""
    navette = policy.get_scoped(db_session(), g.user, Navette, navette_id)
    if navette.received_at is None:
        abort(404)
    audit_here("navette.receipt", object_type="navette", object_id=navette.id)
    return render_template(
        "portal/receipt.html",
        navette=navette,
        kind_label=KIND_LABELS[navette.kind],
        state_label=STATE_LABELS[navette.state],
        timezone=navettes.timezone_of(_juridiction(navette.juridiction_id)),
    )


def _juridiction(juridiction_id: int) -> Any:
    from tgd.db.models.territories import Juridiction

    return db_session().get(Juridiction, juridiction_id)


class RetentionForm(FlaskForm):
    """R-16b: legal hold and the positions' retention of one file."""

    legal_hold = BooleanField(
        _l("Conservation judiciaire (procédure pénale) : suspendre la destruction")
    )
    positions_days = SelectField(_l("Durée de conservation des positions"), choices=[], default="")


@bp.route("/dossiers/<int:file_id>/conservation", methods=["GET", "POST"])
@requires(Permission.NAVETTE_SUBMIT)
def retention(file_id: int) -> Any:
    """R-16b: the parquet puts a file under legal hold or extends its positions' retention."""
    platform, session = current_platform(), db_session()
    file = policy.get_scoped(session, g.user, BeneficiaryFile, file_id)
    periods = platform.settings.retention
    form = RetentionForm(
        legal_hold=file.legal_hold, positions_days=str(file.positions_retention_days or "")
    )
    form.positions_days.choices = [
        ("", gettext("%(n)s jours (durée normale)", n=periods.positions_days))
    ] + [
        (str(d), gettext("%(n)s jours", n=d))
        for d in range(periods.positions_days + 1, periods.positions_max_days + 1)
    ]
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
def message(message_id: int) -> Any:
    """R-14: read information sent by the centre about one of the parquet's files."""
    platform = current_platform()
    found, file = _with_scoped_file(ParquetMessage, message_id)
    session = write_from_here()  # the first reading marks the message read
    text = navettes.read_message(
        session, found, user=g.user, cipher=platform.cipher, clock=platform.clock
    )
    audit_here("parquet_message.read", object_type="parquet_message", object_id=found.id)
    return render_template("portal/message.html", message=found, file=file, text=text)


@bp.get("/exports/<int:export_id>")
@requires(Permission.FILE_READ, Permission.PARQUET_DOCUMENTS)
def download(export_id: int) -> Any:
    """R-15: download the closure export of one of the parquet's files (audited)."""
    platform, session = current_platform(), db_session()
    export, file = _with_scoped_file(FileExport, export_id)
    content = exports.read_export(session, export, cipher=platform.cipher)
    audit_here(
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
    """Register the portal, the operators' intake and the line administration blueprints."""
    from dispatch_ui import intake, lines_admin

    app.register_blueprint(bp)
    intake.init_app(app)
    lines_admin.init_app(app)
