"""The terminals' assistance centre (R-18): fault reports, the operators' tickets, swaps.

Parquets and associations report a faulty terminal here (``/pannes/signaler``);
the operators record a report made by phone (``/pannes/appel``), then
diagnose, advise and, under warranty, swap the handset keeping the line and
its reference. Every page shows the times in the line's territory and every
time typed is that territory's wall clock, named on the form (item 6). A
ticket of another court answers like a missing one (``policy.get_scoped``);
reading what the reporter wrote, and every change, is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from dispatch_ui.flashes import flash_refusal, flash_swap_delay
from dispatch_ui.formatting import zone_label
from dispatch_ui.portal_forms import show_errors
from dispatch_ui.security import audit_read, reads_personal_data, requires
from tgd.db.models.incidents import (
    INCIDENT_KIND_LABELS,
    Incident,
    IncidentKind,
    TicketChannel,
    TicketResolution,
    TicketStatus,
)
from tgd.db.models.lines import Line
from tgd.domain.errors import N_, DomainError, ValidationError
from tgd.domain.localtime import from_local, to_local
from tgd.domain.navettes import FieldErrors
from tgd.http import current_platform, db_session
from tgd.services import faults, inventory, policy
from tgd.services.policy import Permission

bp = Blueprint("faults", __name__, url_prefix="/pannes")

F = TypeVar("F", bound=FlaskForm)

REPORTER_LABELS = {"parquet": _l("Parquet"), "association": _l("Association d'aide aux victimes")}
CHANNEL_LABELS = {
    TicketChannel.PORTAIL: _l("portail"),
    TicketChannel.TELEPHONE: _l("téléphone"),
    TicketChannel.AUTRE: _l("autre"),
}


class _FaultFields(FlaskForm):
    kind = SelectField(_l("Nature de la panne"), choices=[], validators=[DataRequired()])
    symptoms = TextAreaField(
        _l("Ce qui ne fonctionne pas"),
        validators=[DataRequired(), Length(max=2000)],
        description=_l("Symptômes constatés et depuis quand."),
    )
    contact_name = StringField(_l("Personne à rappeler"), validators=[Optional(), Length(max=120)])
    contact_phone = StringField(
        _l("Numéro où rappeler"), validators=[DataRequired(), Length(max=30)]
    )


class ReportForm(_FaultFields):
    """A parquet or an association reports a fault (R-18)."""

    reference = SelectField(_l("Terminal (référence)"), choices=[], validators=[DataRequired()])


class PhoneForm(_FaultFields):
    """An operator records a fault reported by phone."""

    reference = HiddenField(validators=[DataRequired()])
    received_at = DateTimeLocalField(
        _l("Appel reçu le"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()]
    )
    reporter_kind = SelectField(_l("Appel de"), choices=[], validators=[DataRequired()])
    organisation_id = SelectField(_l("Organisme"), coerce=int, choices=[], validate_choice=False)


class FindLineForm(FlaskForm):
    """First step of a phone report: which line."""

    class Meta:
        csrf = False  # a GET search, it changes nothing

    reference = StringField(
        _l("Référence du terminal"),
        validators=[DataRequired(), Length(max=64)],
        description=_l("Par exemple M 75 75056 01 1"),
    )


class DiagnoseForm(FlaskForm):
    """The diagnosis, the advice given and what follows."""

    kind = SelectField(_l("Nature de la panne"), choices=[], validators=[DataRequired()])
    diagnosis = TextAreaField(
        _l("Diagnostic (technique, sans donnée personnelle)"),
        validators=[DataRequired(), Length(max=2000)],
    )
    advice = TextAreaField(
        _l("Conseils donnés (technique, sans donnée personnelle)"),
        validators=[Optional(), Length(max=2000)],
    )
    decision = RadioField(_l("Suite"), choices=[], validators=[DataRequired()])


class SwapForm(FlaskForm):
    """R-18: the swap that closes the ticket."""

    imei = StringField(
        _l("IMEI du nouveau terminal"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("Un terminal du stock, ou un nouveau terminal (15 chiffres)."),
    )
    model = StringField(
        _l("Modèle (terminal absent du stock)"), validators=[Optional(), Length(max=80)]
    )
    swapped_at = DateTimeLocalField(
        _l("Échange effectué le"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    cause = StringField(
        _l("Cause (technique, sans donnée personnelle)"), validators=[Optional(), Length(max=500)]
    )


class CloseForm(FlaskForm):
    """Close a diagnosed ticket without a swap."""

    resolution = RadioField(_l("Issue"), choices=[], validators=[DataRequired()])


def _kind_choices(kinds: tuple[IncidentKind, ...] | list[IncidentKind]) -> list[tuple[str, str]]:
    return [(k.value, gettext(INCIDENT_KIND_LABELS[k])) for k in kinds]


def _report_form() -> ReportForm:
    form = ReportForm()
    form.reference.choices = [
        (ref, ref) for _, ref in faults.reportable_lines(db_session(), g.user)
    ]
    form.kind.choices = _kind_choices(faults.REPORTABLE_KINDS)
    return form


@bp.get("/")
@requires(Permission.FAULT_READ)
def index() -> Any:
    """The tickets of the user's scope: open ones first, by deadline."""
    platform = current_platform()
    tickets = faults.list_tickets(db_session(), g.user, clock=platform.clock)
    return render_template(
        "faults/index.html",
        tickets=tickets,
        can_report=policy.has(g.user, Permission.FAULT_REPORT),
        can_handle=policy.has(g.user, Permission.FAULT_HANDLE),
        kind_labels=INCIDENT_KIND_LABELS,
        channel_labels=CHANNEL_LABELS,
    )


@bp.route("/signaler", methods=["GET", "POST"])
@requires(Permission.FAULT_REPORT)
def report() -> Any:
    """R-18: a parquet or an association reports a faulty terminal."""
    form = _report_form()
    if form.validate_on_submit():
        try:
            return _received(_report_online(form))
        except FieldErrors as err:
            show_errors(form, err)
    return render_template("faults/report.html", form=form), (
        400 if request.method == "POST" else 200
    )


def _report_online(form: ReportForm) -> Incident:
    """Record the fault reported on the portal; return its ticket."""
    platform = current_platform()
    return faults.report_fault(
        db_session(),
        reference=form.reference.data or "",
        kind=IncidentKind(form.kind.data),
        report=_fault_report(form),
        channel=TicketChannel.PORTAIL,
        user=g.user,
        cipher=platform.cipher,
        clock=platform.clock,
    )


def _fault_report(form: _FaultFields) -> faults.FaultReport:
    """What the reporter wrote: the symptoms and whom to call back."""
    return faults.FaultReport(
        form.symptoms.data or "", form.contact_name.data or "", form.contact_phone.data or ""
    )


def _received(ticket: Incident) -> BaseResponse:
    flash(gettext("Signalement n° %(n)s reçu par le centre d'assistance.", n=ticket.id), "success")
    return redirect(url_for("faults.show", ticket_id=ticket.id))


@bp.route("/appel", methods=["GET", "POST"])
@requires(Permission.FAULT_HANDLE)
def phone() -> Any:
    """An operator records a fault reported by phone; times in the line's territory."""
    reference = request.values.get("reference", "").strip()
    find = FindLineForm(request.args)
    if not reference:
        return render_template("faults/find_line.html", find=find)
    try:
        line = faults.line_for_reference(db_session(), g.user, reference)
    except FieldErrors as err:
        return _line_not_found(find, err)
    timezone = line.juridiction.territory.timezone
    form = _phone_form(line, reference, timezone)
    if form.validate_on_submit():
        try:
            return _received(_report_by_phone(form, reference, timezone))
        except FieldErrors as err:
            show_errors(form, err)
    return _phone_page(form, line, reference)


def _line_not_found(find: FindLineForm, err: FieldErrors) -> Any:
    """Show the search again with why the reference was not found (404)."""
    find.validate()
    show_errors(find, err)
    return render_template("faults/find_line.html", find=find), 404


def _phone_page(form: PhoneForm, line: Line, reference: str) -> Any:
    """The phone report's page, naming the zone its times are typed in (item 6)."""
    territory = line.juridiction.territory
    return render_template(
        "faults/phone.html",
        form=form,
        line=line,
        reference=reference,
        zone=zone_label(territory.name, territory.timezone),
    ), (400 if request.method == "POST" else 200)


def _phone_form(line: Line, reference: str, timezone: str) -> PhoneForm:
    """The phone report's form, its choices for this line; a new one starts at the minute."""
    form = PhoneForm()
    form.reference.data = reference
    form.kind.choices = _kind_choices(list(IncidentKind))
    form.reporter_kind.choices = [(k, str(v)) for k, v in REPORTER_LABELS.items()]
    form.organisation_id.choices = [(0, gettext("— non précisé —"))] + [
        (o.id, o.name) for o in faults.organisations_for(db_session(), line)
    ]
    if request.method == "GET":
        form.received_at.data = to_local(current_platform().clock.now(), timezone).replace(
            second=0, microsecond=0
        )
    return form


def _report_by_phone(form: PhoneForm, reference: str, timezone: str) -> Incident:
    """Record the fault reported by phone; return its ticket."""
    platform = current_platform()
    return faults.report_fault(
        db_session(),
        reference=reference,
        kind=IncidentKind(form.kind.data),
        report=_fault_report(form),
        channel=TicketChannel.TELEPHONE,
        user=g.user,
        reporter_kind=form.reporter_kind.data,
        organisation_id=form.organisation_id.data or None,
        received_at=_typed(form.received_at, timezone),
        cipher=platform.cipher,
        clock=platform.clock,
    )


def _typed(field: Any, timezone: str) -> datetime | None:
    """Turn a typed wall-clock time into UTC, or raise a field error naming the field."""
    if field.data is None:
        return None
    try:
        return from_local(field.data, timezone)
    except ValidationError as exc:
        raise FieldErrors({field.short_name: [(exc.template, exc.params)]}) from None


def _diagnose_form(**data: Any) -> DiagnoseForm:
    """The diagnosis form with its choices (every kind; resolve, or a swap to do)."""
    form = DiagnoseForm(prefix="diagnostic", **data)
    form.kind.choices = _kind_choices(list(IncidentKind))
    form.decision.choices = [
        (d.value, gettext(label)) for d, label in faults.DECISION_LABELS.items()
    ]
    return form


def _close_form() -> CloseForm:
    """The closing form with its choices: advice given, or no follow-up."""
    form = CloseForm(prefix="cloture")
    form.resolution.choices = [
        (r.value, gettext(r.label)) for r in (TicketResolution.CONSEIL, TicketResolution.SANS_SUITE)
    ]
    return form


def _ticket_page(ticket: Incident, status: int = 200, **forms: Any) -> Any:
    platform, session = current_platform(), db_session()
    view = faults.ticket_view(session, ticket, clock=platform.clock)
    # Also on a form sent back with errors: its read is audited apart from the refused change.
    report = faults.read_report(session, ticket, cipher=platform.cipher)
    audit_read("fault.read", object_type="incident", object_id=ticket.id)
    handle = policy.has(g.user, Permission.FAULT_HANDLE) and view.is_open
    if handle:
        diagnose_form = forms.get("diagnose") or _diagnose_form(
            kind=ticket.kind.value, diagnosis=ticket.diagnosis, advice=ticket.answer
        )
        close_form = forms.get("close") or _close_form()
        forms = {**forms, "diagnose": diagnose_form, "close": close_form}
        forms.setdefault("swap", SwapForm(prefix="echange"))
    return render_template(
        "faults/show.html",
        t=view,
        report=report,
        handle=handle,
        forms=forms,
        stock=inventory.stock_terminals(session) if handle else [],
        zone=zone_label(view.territory, view.timezone),
        kind_labels=INCIDENT_KIND_LABELS,
        channel_labels=CHANNEL_LABELS,
        reporter_labels=REPORTER_LABELS,
        status_open=TicketStatus.OUVERT,
    ), status


def _ticket_step(
    ticket_id: int, form: F, name: str, step: Callable[[Incident, F], BaseResponse]
) -> Any:
    """Run a handling step posted from a ticket's page, where ``form`` is its form ``name``.

    A form with errors, the step's own included, shows the page again with them (400); the
    service's refusal is flashed on the ticket; else ``step`` answers.
    """
    ticket = policy.get_scoped(db_session(), g.user, Incident, ticket_id)
    if form.validate_on_submit():
        try:
            return step(ticket, form)
        except FieldErrors as err:
            show_errors(form, err)
        except DomainError as err:
            flash_refusal(err)
            return redirect(url_for("faults.show", ticket_id=ticket.id))
    return _ticket_page(ticket, 400, **{name: form})


def _back_to(ticket: Incident) -> BaseResponse:
    """Back to the ticket's page (the service has audited the step)."""
    return redirect(url_for("faults.show", ticket_id=ticket.id))


@bp.get("/<int:ticket_id>")
@requires(Permission.FAULT_READ)
@reads_personal_data
def show(ticket_id: int) -> Any:
    """A ticket: reception, clock, diagnosis, advice, swap; what the reporter wrote (audited)."""
    return _ticket_page(policy.get_scoped(db_session(), g.user, Incident, ticket_id))


@bp.post("/<int:ticket_id>/diagnostic")
@requires(Permission.FAULT_HANDLE)
@reads_personal_data
def diagnose(ticket_id: int) -> Any:
    """Record the diagnosis and the advice given; resolve, or leave a swap to do."""
    return _ticket_step(ticket_id, _diagnose_form(), "diagnose", _diagnose)


def _diagnose(ticket: Incident, form: DiagnoseForm) -> BaseResponse:
    faults.diagnose(
        db_session(),
        ticket,
        kind=IncidentKind(form.kind.data),
        diagnosis=form.diagnosis.data or "",
        advice=form.advice.data or "",
        decision=faults.Decision(form.decision.data),
        user=g.user,
        clock=current_platform().clock,
    )
    flash(gettext("Diagnostic enregistré."), "success")
    return _back_to(ticket)


@bp.post("/<int:ticket_id>/echange")
@requires(Permission.FAULT_HANDLE)
@reads_personal_data
def swap(ticket_id: int) -> Any:
    """R-18: swap the handset, keeping the line and its reference; the ticket is resolved."""
    return _ticket_step(ticket_id, SwapForm(prefix="echange"), "swap", _swap)


def _swap(ticket: Incident, form: SwapForm) -> BaseResponse:
    """Swap the ticket's handset, the time typed in the line's territory; say how long it took."""
    platform, session = current_platform(), db_session()
    timezone = faults.timezone_of(session, ticket)
    result = faults.swap_for_ticket(
        session,
        ticket,
        new_imei=form.imei.data or "",
        model=form.model.data or "",
        swapped_at=_typed(form.swapped_at, timezone),
        cause=form.cause.data or "",
        user=g.user,
        deadline_hours=platform.settings.retention.swap_deadline_hours,
        clock=platform.clock,
    )
    flash_swap_delay(
        result,
        late=N_("Terminal échangé, hors délai : %(h)s heures ouvrées (24 au plus)."),
        in_time=N_("Terminal échangé en %(h)s heures ouvrées."),
    )
    return _back_to(ticket)


@bp.post("/<int:ticket_id>/cloture")
@requires(Permission.FAULT_HANDLE)
@reads_personal_data
def close(ticket_id: int) -> Any:
    """Close a diagnosed ticket without a swap."""
    return _ticket_step(ticket_id, _close_form(), "close", _close)


def _close(ticket: Incident, form: CloseForm) -> BaseResponse:
    """Close the ticket with the resolution chosen on the form."""
    faults.close_ticket(
        db_session(),
        ticket,
        resolution=TicketResolution(form.resolution.data),
        user=g.user,
        clock=current_platform().clock,
    )
    flash(gettext("Signalement clos."), "success")
    return _back_to(ticket)


def init_app(app: Flask) -> None:
    """Register the assistance centre's blueprint."""
    app.register_blueprint(bp)
