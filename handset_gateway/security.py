"""Authentication of carrier webhooks (R-54, E-04): Twilio's signature over the public URL.

The URL signed by Twilio is rebuilt from configuration
(``twilio.public_base_url`` + path + query string), never from the request's
Host, scheme or forwarded headers, and every POST parameter is included. A
missing or bad signature gets 403 and an audit entry committed on its own
(the request's transaction rolls back on a 4xx).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar
from urllib.parse import urlparse

from flask import jsonify, request
from twilio.request_validator import RequestValidator, compare, remove_port

from tgd.http import current_platform
from tgd.services import audit

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def public_url() -> str:
    """Return the URL the carrier called, as configured (E-04)."""
    base = current_platform().settings.twilio.public_base_url.rstrip("/")
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


def twilio_signed(view: F) -> F:
    """Refuse a webhook whose ``X-Twilio-Signature`` does not match (R-54)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = current_platform().settings.twilio.auth_token
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            return refuse("gateway.signature_refused", "missing_signature")
        if not token or not _validator(token).validate(public_url(), request.form, signature):
            return refuse("gateway.signature_refused", "bad_signature")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class FirstMatchValidator(RequestValidator):  # type: ignore[misc]  # twilio is untyped
    """Twilio's validator, stopping at the first form of the URL whose signature matches.

    The library computes the HMAC of the URL without its port and of the URL with it, then
    compares both, on every webhook. Twilio signs the URL it was given, and ours carries no
    port, so the first form matches and the second is not computed. When the first does not
    match, the library's own ``validate`` decides (both forms again): a refused webhook
    costs one HMAC more, an accepted one (every real webhook) one less.
    """

    def validate(self, uri: str, params: Any, signature: str, algorithm: str | None = None) -> bool:
        if params is not None and not isinstance(params, str) and algorithm is None:
            first = self.compute_signature(remove_port(urlparse(uri)), params)
            if compare(first, signature):
                return True
        return bool(super().validate(uri, params, signature, algorithm))


@lru_cache(maxsize=4)
def _validator(token: str) -> FirstMatchValidator:
    return FirstMatchValidator(token)


def refuse(action: str, reason: str, *, status: int = 403, message: str = "") -> Any:
    """Answer a refused machine request, with an audit entry of its own (R-54, R-55)."""
    platform = current_platform()
    try:
        audit.record_committed(
            platform.sessions,
            actor="carrier",
            action=action,
            object_type="route",
            object_id=request.path[:64],
            details={"reason": reason},
            clock=platform.clock,
        )
    except Exception as exc:  # the refusal stands even when the audit cannot be written
        log.error("audit of a refused request failed (%s)", type(exc).__name__)
    log.warning("refused %s on %s: %s", action, request.path, reason)
    response = jsonify(error=reason, message=message or reason.replace("_", " "))
    response.status_code = status
    return response
