"""The reports page: committee, parquet and supervisor users download their reports (§7, R-51).

Committee users choose among their own juridictions and get anonymized
documents only; the parquet the same, plus the nominative annex of its
alerts; supervisors any juridiction, département or the national roll-up.
Every download is audited (``report.download``); a refused request is too.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, g, render_template
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional

from dispatch_ui.security import audit_refusal, reauthenticate, requires
from tgd.domain.errors import DomainError, Forbidden
from tgd.http import commit, current_platform, db_session
from tgd.services import policy, reports
from tgd.services.policy import Permission
from tgd.services.reports.model import Scope
from tgd.services.reports.period import Period, half_year, previous_quarter, quarter
from tgd.services.reports.scope import scopes_for
from tgd.settings import NATIONAL_TIMEZONE

bp = Blueprint("reports", __name__, url_prefix="/rapports")
RANGE = "plage"


class ReportForm(FlaskForm):
    """Scope, period, format and, for the parquet, the nominative annex."""

    scope = SelectField(_l("Périmètre"), validators=[DataRequired()])
    period = SelectField(_l("Période"), validators=[DataRequired()])
    date_from = DateField(_l("Du (pour une plage de dates)"), validators=[Optional()])
    date_to = DateField(_l("Au (inclus)"), validators=[Optional()])
    fmt = SelectField(
        _l("Format"),
        choices=[
            SelectChoice("ods", _l("Tableur ODS (tous les tableaux)")),
            SelectChoice("pdf", _l("PDF (rapport commenté)")),
            SelectChoice("odt", _l("Texte ODT (rapport commenté)")),
        ],
        default="ods",
    )
    nominative = BooleanField(_l("Joindre l'annexe nominative des alertes (parquet)"))
    # E-08: a nominative export asks for the password again.
    password = PasswordField(_l("Votre mot de passe (requis pour l'annexe nominative)"))


def _period_choices(today: date) -> list[tuple[str, str]]:
    """Offer the last complete quarter first, then the current one, then older ones."""
    last = previous_quarter(today)
    current = quarter(today.year, (today.month - 1) // 3 + 1)
    choices = [(last.code, last.label), (current.code, f"{current.label} (en cours)")]
    year, number = last.start.year, (last.start.month - 1) // 3 + 1
    for _ in range(7):
        year, number = (year, number - 1) if number > 1 else (year - 1, 4)
        older = quarter(year, number)
        choices.append((older.code, older.label))
    for year in (today.year, today.year - 1):
        for number in (2, 1):
            half = half_year(year, number)
            if half.start <= today:
                choices.append((half.code, half.label))
    choices.append((RANGE, gettext("Plage de dates (ci-dessous)")))
    return choices


def _form() -> ReportForm:
    form = ReportForm()
    scopes = scopes_for(db_session(), g.user)
    form.scope.choices = [SelectChoice(f"{s.kind}:{s.code}", s.label) for s in scopes]
    today = current_platform().clock.now().astimezone(ZoneInfo(NATIONAL_TIMEZONE)).date()
    form.period.choices = [SelectChoice(code, label) for code, label in _period_choices(today)]
    return form


@bp.route("", methods=["GET", "POST"])
@requires(Permission.REPORT_ANONYMOUS)
def index() -> Any:
    """Show the report form; on a valid request, send the document."""
    form = _form()
    may_annex = policy.has(g.user, Permission.REPORT_NOMINATIVE)
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("reports/index.html", form=form, may_annex=may_annex), status
    try:
        scope, period, provisional = _prepare(form)
    except DomainError as err:
        return _refused(form, may_annex, err)
    if form.nominative.data:
        try:
            reauthenticate(form.password.data or "", purpose="report.nominative")
        except DomainError as err:
            return _refused(form, may_annex, err)
    return _download(form, scope, period, provisional)


def _prepare(form: ReportForm) -> tuple[Scope, Period, bool]:
    """Turn the form into the report's scope and period; a refused request is audited."""
    kind, _, code = form.scope.data.partition(":")
    nominative = bool(form.nominative.data)
    try:
        return reports.prepare(
            db_session(),
            juridiction=code if kind == "juridiction" else None,
            departement=code if kind == "departement" else None,
            national=kind == "national",
            period=None if form.period.data == RANGE else form.period.data,
            date_from=form.date_from.data.isoformat() if form.date_from.data else None,
            date_to=form.date_to.data.isoformat() if form.date_to.data else None,
            nominative=nominative,
            user=g.user,
            clock=current_platform().clock,
        )
    except Forbidden:
        commit()  # the session's own bookkeeping first: SQLite allows one writer (E-01)
        audit_refusal("report.refused", details={"scope": kind, "nominative": nominative})
        raise


def _refused(form: ReportForm, may_annex: bool, err: DomainError) -> Any:
    """The form again, with the refusal's French message and its HTTP status."""
    error = gettext(err.template, **err.params)
    return render_template(
        "reports/index.html", form=form, may_annex=may_annex, error=error
    ), err.http_status


def _download(form: ReportForm, scope: Scope, period: Period, provisional: bool) -> Response:
    """Build the report, audit its download and send it (never cached)."""
    platform = current_platform()
    report, read = reports.build_report(
        db_session(),
        scope,
        period,
        provisional=provisional,
        clock=platform.clock,
        nominative=bool(form.nominative.data),
        cipher=platform.cipher,
        settings=platform.settings,
    )
    body = reports.render(report, form.fmt.data)
    reports.record_download(
        db_session(), report, form.fmt.data, read, actor=f"user:{g.user.id}", clock=platform.clock
    )
    response = Response(body, mimetype=reports.MEDIA_TYPES[form.fmt.data])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{reports.filename(report, form.fmt.data)}"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the reports blueprint."""
    app.register_blueprint(bp)
