"""The machines' door as a Flask app of its own, served under ``/gateway/``.

Carrier webhooks and terminals' positions need none of what the people's door runs on
each request: no cookie session (this app has no secret key, so Flask gives each request
a null session: no cookie is read, signed or written), no CSRF (they are signed, R-54),
no rate limiter (a refused webhook could be an alert, E-01), no login, no locale. Each of
those cost CPU on every webhook, and in a burst every webhook's CPU delays the next alert
(docs/gateway.md, "The machines' door on its own").

The two apps share the platform (one ``extensions`` mapping: the same database, spool,
writer and carrier), the security headers (E-10) and the outer WSGI middleware (trusted
proxies, Socket.IO's path check, incoming calls first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from handset_gateway.calls_first import GATEWAY_PREFIX
from tgd.domain.errors import DomainError
from tgd.routing import Door

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)


class MachineDoor:
    """WSGI: ``/gateway/…`` goes to the machines' app, anything else to the people's."""

    def __init__(self, people: WSGIApplication, machines: WSGIApplication) -> None:
        self.people, self.machines = people, machines

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[Any]:
        if environ.get("PATH_INFO", "").startswith(GATEWAY_PREFIX):
            return self.machines(environ, start_response)
        return self.people(environ, start_response)


def create_door(people: Flask, *, harden: Callable[[Response], None]) -> Flask:
    """Build the machines' app beside ``people``, sharing its platform."""
    from handset_gateway.views import bp

    door = Door("handset_gateway")
    door.extensions = people.extensions  # one platform for both doors
    door.config.update(
        MAX_CONTENT_LENGTH=people.config["MAX_CONTENT_LENGTH"],
        TESTING=people.config["TESTING"],
    )
    door.register_blueprint(bp)

    @door.after_request
    def _harden(response: Response) -> Response:
        harden(response)
        return response

    _register_errors(door)
    return door


def _register_errors(door: Flask) -> None:
    """Machines get a precise English JSON body for every error, never a page (R-54)."""

    @door.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Any:
        status = err.code or 500
        log.warning("gateway answered %s on %s %s", status, request.method, request.path)
        return _error(status, (err.name or "error").lower().replace(" ", "_"), err.description)

    @door.errorhandler(DomainError)
    def _domain(err: DomainError) -> Any:
        log.info("refused %s %s: %s", request.method, request.path, type(err).__name__)
        return _error(err.http_status, type(err).__name__, "refused by a domain rule")

    @door.errorhandler(Exception)
    def _crash(err: Exception) -> Any:
        # The traceback goes to the (redacting) log, never to the answer.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error(500, "internal_error", "internal error")


def _error(status: int, code: str, message: str | None) -> Any:
    response = jsonify(error=code, message=message or code.replace("_", " "))
    response.status_code = status
    return response
