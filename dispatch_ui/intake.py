"""The operators' side of navettes (R-10..R-15): queue with countdown, files, commissioning.

The queue lists attributions waiting for their file with the time left on
R-10's 15-minute clock (``static/js/countdown.js`` ticks it), documents
received by e-mail or fax waiting to be keyed in, files under commissioning
and termination tasks. Each page makes one service call; reads of
nominative content are audited.
"""

from __future__ import annotations

from typing import Any

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
from wtforms import BooleanField, PasswordField

from dispatch_ui.formatting import local_time
from dispatch_ui.portal_forms import (
    SLUGS,
    MessageForm,
    content_of,
    fill_form,
    navette_form,
    show_errors,
)
from dispatch_ui.security import audit_read, reads_personal_data, reauthenticate, requires
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.navettes import IntakeDocument, Navette
from tgd.db.models.operations import Task
from tgd.domain.errors import DomainError
from tgd.domain.lifecycle import CommissioningStep, NavetteKind, NavetteState
from tgd.domain.navettes import KIND_LABELS, Attribution, FieldErrors
from tgd.http import current_platform, db_session, request_reader
from tgd.services import commissioning, intake, navettes, policy, termination
from tgd.services.policy import Permission

bp = Blueprint("intake", __name__, url_prefix="/navettes-recues")

STEP_LABELS = {
    CommissioningStep.TEST_TERMINAL: _l("Essai du terminal"),
    CommissioningStep.CHECK_ASSIGNMENT: _l("Vérification de l'affectation"),
    CommissioningStep.TEST_CALL_BY_PERSON: _l("Appel d'essai de la personne"),
}


class ConfirmForm(FlaskForm):
    """R-15: what the magistrate confirmed on the phone."""

    measure_ended = BooleanField(_l("Le magistrat confirme la fin de la mesure"))
    terminal_recovered = BooleanField(_l("Le terminal a été récupéré"))
    # E-08: closing exports the file and schedules its destruction: the password again.
    password = PasswordField(_l("Votre mot de passe (clôture, export et destruction programmée)"))


class StepForm(FlaskForm):
    """A commissioning step's outcome (the buttons carry the step and the outcome)."""


@bp.get("/")
@requires(Permission.NAVETTE_PROCESS)
def queue() -> Any:
    """R-10: attributions with their countdown, documents to key in, commissioning, tasks."""
    platform, session = current_platform(), db_session()
    minutes = platform.settings.retention.navette_deadline_minutes
    return render_template(
        "intake/queue.html",
        items=navettes.queue(session, clock=platform.clock),
        documents=intake.pending(session, clock=platform.clock, minutes=minutes),
        commissioning=commissioning.files_in_creation(session),
        tasks=termination.open_tasks(session),
        kind_labels=KIND_LABELS,
        now=platform.clock.now(),
    )


@bp.route("/<int:navette_id>/fiche", methods=["GET", "POST"])
@requires(Permission.NAVETTE_PROCESS)
@reads_personal_data
def create_file(navette_id: int) -> Any:
    """R-10: create the file from an attribution (the operator may correct the keying)."""
    platform, session = current_platform(), db_session()
    navette = policy.get_scoped(session, g.user, Navette, navette_id)
    if navette.kind is not NavetteKind.ATTRIBUTION or navette.state is not NavetteState.RECUE:
        abort(404)
    form = navette_form(NavetteKind.ATTRIBUTION, None)
    if request.method == "GET":
        fill_form(form, navettes.read_content(session, navette, cipher=platform.cipher))
        audit_read("navette.read", object_type="navette", object_id=navette.id)
    elif form.validate_on_submit():
        try:
            return _create_file(navette, form)
        except FieldErrors as err:
            show_errors(form, err)
    return render_template(
        "intake/create_file.html",
        form=form,
        navette=navette,
        timezone=navettes.court_timezone(db_session(), navette.juridiction_id),
    ), (400 if request.method == "POST" else 200)


def _create_file(navette: Navette, form: Any) -> Any:
    """Create the file from the (possibly corrected) attribution; go on to commissioning."""
    platform = current_platform()
    content = content_of(NavetteKind.ATTRIBUTION, form)
    assert isinstance(content, Attribution)
    file = navettes.create_file(
        db_session(),
        navette,
        personal=content.personal,
        association_id=content.association_id,
        user=g.user,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    flash(
        gettext("Fiche %(number)s créée : lancez la mise en service.", number=file.number),
        "success",
    )
    return redirect(url_for("intake.commission", file_id=file.id))


@bp.route("/fiches/<int:file_id>/mise-en-service", methods=["GET", "POST"])
@requires(Permission.NAVETTE_PROCESS)
def commission(file_id: int) -> Any:
    """R-11: the three-step checklist; the third step is the person's real test call."""
    session = db_session()
    file = policy.get_scoped(session, g.user, BeneficiaryFile, file_id)
    form = StepForm()
    if form.validate_on_submit():
        _commissioning_action(file, request.form.get("step", ""))
        return redirect(url_for("intake.commission", file_id=file.id))
    return render_template(
        "intake/commission.html",
        file=file,
        form=form,
        steps=commissioning.checklist(session, file),
        labels=STEP_LABELS,
        timezone=navettes.court_timezone(db_session(), file.juridiction_id),
    )


def _commissioning_action(file: BeneficiaryFile, action: str) -> None:
    """Record a step's outcome, or complete the commissioning when all three succeeded."""
    platform, session = current_platform(), db_session()
    if action == "complete":
        if not commissioning.complete_if_done(session, file, user=g.user, clock=platform.clock):
            flash(
                gettext(
                    "La mise en service n'est pas terminée : les trois étapes doivent réussir."
                ),
                "error",
            )
        return
    try:
        step = CommissioningStep(action)
    except ValueError:
        abort(400)
    commissioning.record_step(
        session,
        file,
        step,
        succeeded=request.form.get("outcome") == "ok",
        user=g.user,
        clock=platform.clock,
    )


@bp.route("/fiches/<int:file_id>/parquet", methods=["GET", "POST"])
@requires(Permission.NAVETTE_PROCESS)
def inform_parquet(file_id: int) -> Any:
    """R-14: send new information to the parquet référent."""
    platform, session = current_platform(), db_session()
    file = policy.get_scoped(session, g.user, BeneficiaryFile, file_id)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            navettes.send_to_parquet(
                session,
                file,
                text=form.text.data or "",
                user=g.user,
                cipher=platform.cipher,
                clock=platform.clock,
            )
        except FieldErrors as err:
            show_errors(form, err)
        else:
            flash(gettext("Information transmise au parquet."), "success")
            return redirect(url_for("cases.show", file_id=file.id))
    return render_template("intake/inform.html", form=form, file=file)


@bp.route("/resiliations/<int:task_id>", methods=["GET", "POST"])
@requires(Permission.NAVETTE_PROCESS)
def confirm_termination(task_id: int) -> Any:
    """R-15: record the magistrate's confirmation; then the file is closed and exported."""
    # Read first (the password check is slow): the write begins at the first db_session().
    session = request_reader()
    task, file = termination.get_task(session, g.user, task_id)
    form = ConfirmForm()
    error = None
    if form.validate_on_submit() and form.measure_ended.data and form.terminal_recovered.data:
        error = _password_refusal(form.password.data or "")
    if form.validate_on_submit() and error is None:
        _confirm(task, file, form)
        return redirect(url_for("intake.queue"))
    return render_template(
        "intake/termination.html",
        form=form,
        error=error,
        task=task,
        file=file,
        steps=termination.steps_of(session, task),
        timezone=navettes.court_timezone(db_session(), file.juridiction_id),
    )


def _password_refusal(password: str) -> str | None:
    """E-08: check the password again; the refusal's French message, if any."""
    try:
        reauthenticate(password, purpose="file.termination")
    except DomainError as err:
        return str(gettext(err.template, **err.params))
    return None


def _confirm(task: Task, file: BeneficiaryFile, form: ConfirmForm) -> None:
    """Record the confirmation (closing the file when both facts are confirmed) and say so."""
    platform = current_platform()
    closure = termination.confirm(
        db_session(),
        task,
        measure_ended=bool(form.measure_ended.data),
        terminal_recovered=bool(form.terminal_recovered.data),
        user=g.user,
        settings=platform.settings.retention,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    if closure is None:
        flash(gettext("Confirmation incomplète enregistrée : la fiche reste ouverte."), "warning")
        return
    timezone = navettes.court_timezone(db_session(), file.juridiction_id)
    flash(
        gettext(
            "Fiche %(number)s clôturée au %(closed)s, export transmis au parquet ; la "
            "ligne est réaffectable sous la référence %(ref)s à partir du %(date)s.",
            number=file.number,
            closed=local_time(file.closed_at, timezone),
            ref=closure.next_record.reference,
            date=local_time(closure.next_record.available_from, timezone),
        ),
        "success",
    )


@bp.get("/documents/<int:document_id>/original")
@requires(Permission.NAVETTE_PROCESS)
@reads_personal_data
def original(document_id: int) -> Any:
    """The received document itself (audited), for display beside the keying form."""
    platform, session = current_platform(), db_session()
    document = session.get(IntakeDocument, document_id)
    if document is None:
        abort(404)
    content = intake.read_document(session, document, cipher=platform.cipher)
    audit_read("intake.read", object_type="intake_document", object_id=document.id)
    response = Response(content, mimetype=document.content_type)
    response.headers["Content-Disposition"] = "inline"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    )
    return response


@bp.route("/documents/<int:document_id>/<slug>", methods=["GET", "POST"])
@requires(Permission.NAVETTE_PROCESS)
def key_in(document_id: int, slug: str) -> Any:
    """Key in a navette received by e-mail or fax, the original shown beside the form."""
    document = intake.get_pending_document(db_session(), document_id)
    if slug == "ecarter":
        return _set_aside(document)
    if slug not in SLUGS:
        abort(404)
    kind = SLUGS[slug]
    form = navette_form(kind, None)
    if form.validate_on_submit():
        try:
            return _key_in(document, kind, form)
        except FieldErrors as err:
            show_errors(form, err)
    return _key_in_page(document, kind, form)


def _key_in_page(document: IntakeDocument, kind: NavetteKind, form: Any) -> Any:
    """The keying form beside the original, with the other kinds and the set-aside button."""
    return render_template(
        "intake/key_in.html",
        form=form,
        document=document,
        kind=kind,
        kind_label=KIND_LABELS[kind],
        slugs=SLUGS,
        kind_labels=KIND_LABELS,
        set_aside_form=StepForm(),
    ), (400 if request.method == "POST" else 200)


def _set_aside(document: IntakeDocument) -> Any:
    """Set a received document aside (POST only)."""
    if request.method == "POST" and StepForm().validate_on_submit():
        intake.set_aside(db_session(), document, user=g.user, clock=current_platform().clock)
        flash(gettext("Document écarté."), "info")
        return redirect(url_for("intake.queue"))
    abort(405)


def _key_in(document: IntakeDocument, kind: NavetteKind, form: Any) -> Any:
    """Record the keyed-in navette; an attribution goes on to its file's creation."""
    platform = current_platform()
    navette = intake.key_in(
        db_session(),
        document,
        content_of(kind, form),
        user=g.user,
        deadline_minutes=platform.settings.retention.navette_deadline_minutes,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    flash(gettext("Navette saisie."), "success")
    if kind is NavetteKind.ATTRIBUTION:
        return redirect(url_for("intake.create_file", navette_id=navette.id))
    return redirect(url_for("intake.queue"))


def init_app(app: Flask) -> None:
    """Register the intake blueprint."""
    app.register_blueprint(bp)
