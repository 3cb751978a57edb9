"""Error pages and API errors: French for people, precise for logs, never personal data."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from dispatch_ui.security import audit_refusal
from tgd.db.writes import WriteGateTimeout
from tgd.domain.errors import N_, NOT_FOUND_OR_HIDDEN, DomainError

log = logging.getLogger(__name__)

MESSAGES = {
    400: N_("La requête n'est pas valide."),
    403: N_("Vous n'avez pas accès à cette page."),
    404: NOT_FOUND_OR_HIDDEN,
    405: N_("Cette action n'est pas permise ici."),
    413: N_("Le fichier envoyé est trop volumineux."),
    429: N_("Trop de tentatives : veuillez patienter avant de réessayer."),
    500: N_("Une erreur interne est survenue. L'équipe technique a été prévenue."),
    503: N_("Le service est momentanément surchargé : réessayez dans quelques secondes."),
}


def wants_json() -> bool:
    """Tell whether the caller is a script (JSON) rather than a browser."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.path.startswith("/api/") or best == "application/json"


def render_error(status: int, message: str) -> tuple[Any, int]:
    """Answer an error as JSON for scripts or as a French page for people."""
    if wants_json():
        return jsonify(error=message, status=status), status
    return render_template("errors/error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    """Map domain errors, HTTP errors and crashes to clear answers."""

    @app.errorhandler(DomainError)
    def _domain(err: DomainError) -> tuple[Any, int]:
        log.info("refused %s %s: %s", request.method, request.path, type(err).__name__)
        return render_error(err.http_status, gettext(err.template, **err.params))

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError) -> tuple[Any, int]:
        log.warning("CSRF refused on %s %s: %s", request.method, request.path, err.description)
        audit_refusal("csrf.refused", details={"endpoint": request.endpoint or ""})
        return render_error(
            400, gettext("Le formulaire a expiré ou n'est pas valide : rechargez la page.")
        )

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> tuple[Any, int]:
        status = err.code or 500
        return render_error(status, gettext(MESSAGES.get(status, MESSAGES[400])))

    @app.errorhandler(WriteGateTimeout)
    def _busy(err: WriteGateTimeout) -> tuple[Any, int]:
        # The database stayed busy past the writer's wait: nothing was written, try again.
        log.error("write gate timeout on %s %s: %s", request.method, request.path, err)
        return render_error(503, gettext(MESSAGES[503]))

    @app.errorhandler(Exception)
    def _crash(err: Exception) -> tuple[Any, int]:
        # The traceback goes to the (redacting) log, never to the page.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500, gettext(MESSAGES[500]))
