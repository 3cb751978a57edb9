"""Cases for people: files, alerts, navettes, lines; each read scoped and audited (R-20, R-51)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, render_template

from dispatch_ui.coverage_admin import cache as coverage_cache
from dispatch_ui.security import audit_read, reads_personal_data, requires
from tgd.db.models.alerts import Alert
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.lines import Line
from tgd.db.models.navettes import Navette
from tgd.domain.geocoding import QUALITY_LABELS
from tgd.http import current_platform, db_session
from tgd.services import cases, coverage, lines, policy
from tgd.services.policy import Permission

bp = Blueprint("cases", __name__)


@bp.get("/dossiers")
@requires(Permission.FILE_READ)
def index() -> Any:
    """List the files of the user's scope (references and states only)."""
    return render_template("cases/index.html", rows=cases.list_files(db_session(), g.user))


@bp.get("/dossiers/<int:file_id>")
@requires(Permission.FILE_READ)
@reads_personal_data
def show(file_id: int) -> Any:
    """Show a beneficiary file; every opening is audited."""
    platform = current_platform()
    file = policy.get_scoped(db_session(), g.user, BeneficiaryFile, file_id)
    view = cases.file_view(
        db_session(), file, viewer=g.user, cipher=platform.cipher, clock=platform.clock
    )
    audit_read("file.read", object_type="file", object_id=file.id)
    covered = coverage.file_statuses(
        db_session(), view.personal, cache=coverage_cache(), places=view.places
    )
    return render_template(
        "cases/show.html", v=view, coverage=covered, quality_labels=QUALITY_LABELS
    )


@bp.get("/alertes/<int:alert_id>")
@requires(Permission.ALERT_READ)
@reads_personal_data
def alert(alert_id: int) -> Any:
    """Show an alert's handling (times, nature, orientation)."""
    found = policy.get_scoped(db_session(), g.user, Alert, alert_id)
    audit_read("alert.read", object_type="alert", object_id=found.id)
    return render_template("cases/alert.html", alert=found)


@bp.get("/navettes/<int:navette_id>")
@requires(Permission.NAVETTE_READ)
@reads_personal_data
def navette(navette_id: int) -> Any:
    """Show a navette's kind, reception time and state."""
    found = policy.get_scoped(db_session(), g.user, Navette, navette_id)
    audit_read("navette.read", object_type="navette", object_id=found.id)
    return render_template("cases/navette.html", navette=found)


@bp.get("/lignes")
@requires(Permission.LINE_READ)
def lines_index() -> Any:
    """List the lines of the user's scope."""
    views = lines.list_lines(db_session(), juridiction_ids=policy.juridiction_scope(g.user))
    return render_template("cases/lines.html", lines=views)


@bp.get("/lignes/<int:line_id>")
@requires(Permission.LINE_READ)
def line(line_id: int) -> Any:
    """Show a line, its terminal, SIM and assignment records."""
    found = policy.get_scoped(db_session(), g.user, Line, line_id)
    return render_template("cases/line.html", line=found)


def init_app(app: Flask) -> None:
    """Register the cases blueprint."""
    app.register_blueprint(bp)
