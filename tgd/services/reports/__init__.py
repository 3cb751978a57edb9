"""Committee reports (DESIGN §7, R-40, R-41; CCP IV.6): the ten tables, anonymized, as ODS/ODT/PDF.

``prepare`` checks the request (scope, period, the user's right to it) before
anything is read; ``build_report`` loads the anonymous rows and builds the
tables, the service levels and, for the parquet alone, the nominative annex;
``render`` lays the report out. The three doors (``tgd report``, the reports
page, the benchmark) go through these functions only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tgd.db.models.users import User
from tgd.domain.errors import N_, Forbidden, ValidationError
from tgd.ports import Cipher, Clock
from tgd.services import audit
from tgd.services.reports.model import Report, Scope
from tgd.services.reports.period import Period, checked, date_range, parse_day, parse_period
from tgd.services.reports.scope import authorize, resolve_scope
from tgd.settings import Settings

FORMATS = ("ods", "odt", "pdf")
MEDIA_TYPES = {
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "pdf": "application/pdf",
}


def prepare(
    session: Session,
    *,
    juridiction: str | None = None,
    departement: str | None = None,
    national: bool = False,
    period: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    nominative: bool = False,
    user: User | None,
    clock: Clock,
) -> tuple[Scope, Period, bool]:
    """Check a report request; return its scope, period and whether it is provisional."""
    scope = resolve_scope(
        session, juridiction=juridiction, departement=departement, national=national
    )
    if user is not None:
        authorize(user, scope, nominative=nominative)
    elif nominative:
        # the nominative annex goes to a named parquet user only, never to a script.
        raise Forbidden(N_("L'annexe nominative est réservée à un utilisateur du parquet."))
    if period and (date_from or date_to):
        raise ValidationError(N_("Indiquez soit une période, soit des dates de début et de fin."))
    if period:
        wanted = parse_period(period)
    elif date_from and date_to:
        wanted = date_range(parse_day(date_from), parse_day(date_to))
    else:
        raise ValidationError(
            N_("Indiquez une période (2026-T3, 2026-S1) ou des dates de début et de fin.")
        )
    today = clock.now().astimezone(ZoneInfo(scope.timezone)).date()
    clipped, provisional = checked(wanted, today=today)
    return scope, clipped, provisional


def build_report(
    session: Session,
    scope: Scope,
    period: Period,
    *,
    provisional: bool,
    clock: Clock,
    nominative: bool = False,
    cipher: Cipher | None = None,
    settings: Settings | None = None,
) -> tuple[Report, list[int]]:
    """Build the report; return it with the ids of the files whose names the annex read.

    The deadlines measured are the settings' (``Targets.of``), the defaults without them.
    """
    from tgd.services.coverage import coverage_table
    from tgd.services.reports.annex import nominative_annex
    from tgd.services.reports.dataset import DEFAULT_TARGETS, Targets
    from tgd.services.reports.levels import service_levels
    from tgd.services.reports.loading import load
    from tgd.services.reports.tables import build_tables

    targets = Targets.of(settings) if settings is not None else DEFAULT_TARGETS
    data = load(session, scope, period, targets=targets)
    levels, breaches, figures = service_levels(data)
    report = Report(
        scope=scope,
        period=period,
        provisional=provisional,
        generated_at=clock.now(),
        tables=build_tables(data),
        service_levels=levels,
        breaches=breaches,
        figures=figures,
        coverage=coverage_table(
            session, scope, at=min(period.bounds(scope.timezone)[1], clock.now())
        ),
    )
    read: list[int] = []
    if nominative:
        if cipher is None:
            raise ValueError("the nominative annex needs the cipher")
        annex, read = nominative_annex(session, data, cipher=cipher)
        report.annex = [annex]
    return report, read


def _writer(fmt: str) -> Callable[[Report, IO[bytes]], None]:
    if fmt == "ods":
        from tgd.services.reports.ods import write_ods

        return write_ods
    if fmt == "odt":
        from tgd.services.reports.document import write_odt

        return write_odt
    if fmt == "pdf":
        from tgd.services.reports.document import write_pdf

        return write_pdf
    raise ValidationError(N_("Format « %(fmt)s » inconnu : ods, odt ou pdf."), fmt=fmt[:10])


def write(report: Report, fmt: str, out: IO[bytes]) -> None:
    """Write the report in the given format (ods, odt, pdf) to a binary stream."""
    _writer(fmt)(report, out)


def render(report: Report, fmt: str) -> bytes:
    """Return the report in the given format as bytes."""
    from io import BytesIO

    buffer = BytesIO()
    write(report, fmt, buffer)
    return buffer.getvalue()


def filename(report: Report, fmt: str) -> str:
    """Return the download name, e.g. ``tgd-rapport-75056-2026-T3.ods`` (no personal data)."""
    suffix = "-nominatif" if report.is_nominative else ""
    return f"tgd-rapport-{report.scope.code}-{report.period.code}{suffix}.{fmt}"


def audit_details(report: Report, fmt: str, files_read: list[int]) -> dict[str, Any]:
    """Return what the audit log keeps of a report download (R-53: no personal data)."""
    return {
        "scope": report.scope.kind,
        "code": report.scope.code,
        "period": report.period.code,
        "format": fmt,
        "nominative": report.is_nominative,
        "files_read": files_read,
    }


def record_download(
    session: Session,
    report: Report,
    fmt: str,
    files_read: list[int],
    *,
    actor: str,
    clock: Clock,
) -> None:
    """Audit that a report was handed out (R-53): ``actor`` is ``user:<id>`` or ``system:cli``.

    ``session`` must be a writer: the entry goes with its transaction.
    """
    audit.record(
        session,
        actor=actor,
        action="report.download",
        object_type="report",
        object_id=report.scope.code,
        details=audit_details(report, fmt, files_read),
        clock=clock,
    )
