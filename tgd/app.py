"""The application factory: the only module that wires settings, adapters and both doors.

``create_app(settings)`` builds the platform (database, cipher, clock),
checks durability (E-01), sets up Flask-Babel (French first), CSRF,
rate limits, security headers (E-10) and the error pages, then registers
the blueprints of ``dispatch_ui`` (people) and puts ``handset_gateway``'s own app
(machines, under ``/gateway/``) in front of them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, jsonify, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter, Map

from tgd import readiness
from tgd.container import Platform, build_platform, complete_platform
from tgd.db.base import MAX_ID
from tgd.db.session import check_durability
from tgd.http import add_security_headers, finish_request, limiter, track_writes
from tgd.logs import configure_logging
from tgd.ports import Clock
from tgd.proxy import TrustedProxies, address_in, parse_networks
from tgd.routing import Door
from tgd.settings import Settings, ensure_dev_secrets, load_settings

LOCALES = ("fr", "en")
log = logging.getLogger(__name__)

csrf = CSRFProtect()

# E-10: no inline script, nothing framed, nothing leaked to other sites.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{tiles}; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def content_security_policy(settings: Settings) -> str:
    """Return the CSP; images may also come from the map's tile server when one is set."""
    parts = urlsplit(settings.map.tile_url) if settings.map.tile_url else None
    tiles = f" {parts.scheme}://{parts.netloc}" if parts and parts.scheme and parts.netloc else ""
    return CSP.format(tiles=tiles)


def create_app(
    settings: Settings | None = None,
    *,
    platform: Platform | None = None,
    clock: Clock | None = None,
) -> Flask:
    """Build the TGD web application."""
    settings = ensure_dev_secrets(settings or load_settings())
    configure_logging(settings.log_level, settings.server.log_format)
    platform = complete_platform(platform) if platform else build_platform(settings, clock=clock)
    check_durability(platform.engine)

    app = Door("dispatch_ui", template_folder="templates", static_folder="static")
    # Before any route: every <int:…> of both doors is a database id, bounded (else 404).
    app.url_map.converters["int"] = DatabaseIdConverter
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        SESSION_COOKIE_NAME="tgd_session",
        PERMANENT_SESSION_LIFETIME=settings.security.session_lifetime_hours * 3600,
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_DEFAULT_TIMEZONE=settings.default_timezone,
        WTF_CSRF_TIME_LIMIT=settings.security.session_lifetime_hours * 3600,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        # Redis lost: count in this process's memory meanwhile rather than refuse logins.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=bool(settings.redis_url),
        RATELIMIT_KEY_PREFIX="tgd-limits",
        TESTING=settings.mode == "test",
    )
    app.extensions["tgd"] = platform
    app.extensions["tgd.telephony"] = platform.telephony  # the tests' handle on the fake carrier
    app.extensions["tgd.collectors"] = _collectors(platform)
    track_writes(platform.sessions)

    Babel(app, locale_selector=_select_locale)
    csrf.init_app(app)
    limiter.init_app(app)
    csp = content_security_policy(settings)
    _register_request_hooks(app, csp)
    _register_health(app)

    import dispatch_ui
    import handset_gateway

    handset_gateway.init_app(app, harden=partial(add_security_headers, csp=csp))
    dispatch_ui.init_app(app)
    # Outermost, so that Socket.IO's requests see the real client too.
    app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
        app.wsgi_app,
        parse_networks(settings.server.trusted_proxies),
        hops=settings.server.proxy_hops,
    )
    return app


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` in every route: a database id, so 0 < id < 2**31 (else the route is 404).

    Werkzeug's own converter accepts any length of digits, and an id beyond the
    database's integer range made the query itself fail (500).
    """

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def _collectors(platform: Platform) -> list[Any]:
    """What ``/metrics`` reads at scrape time besides the counters (reads only)."""
    from tgd import metrics

    return [
        metrics.DatabaseCollector(platform),
        metrics.WriteGateCollector(platform.engine),
    ]


def _select_locale() -> str | None:
    """French, unless the user chose English with the language button (a cookie).

    The browser's language is not followed: the users are French State agents and a
    workstation left in English must not change what the operators read.
    """
    chosen = request.cookies.get("tgd_lang")
    return chosen if chosen in LOCALES else "fr"


def _register_request_hooks(app: Flask, csp: str) -> None:
    @app.after_request
    def _commit_and_harden(response: Response) -> Response:
        finish_request(None, success=response.status_code < 400)
        add_security_headers(response, csp)
        return response

    @app.teardown_request
    def _rollback(error: BaseException | None) -> None:
        finish_request(error, success=False)


def _register_health(app: Flask) -> None:
    platform: Platform = app.extensions["tgd"]
    settings = platform.settings
    metrics_networks = parse_networks(settings.server.metrics_allowed)

    @app.get("/healthz")
    @limiter.exempt
    def healthz() -> Any:
        """Answer 200 while the process serves (liveness; the dependencies are /readyz's)."""
        return jsonify(status="ok")

    @app.get("/readyz")
    @limiter.exempt
    def readyz() -> Any:
        """Answer 200 only when the database is at the head revision, Redis and a leader are up."""
        result = readiness.check(
            platform.engine,
            platform.sessions,
            redis_url=settings.redis_url,
            scheduler_stale=timedelta(seconds=settings.server.scheduler_stale_seconds),
        )
        if result.ready:
            return jsonify(status="ready", checks=result.checks)
        log.warning("readyz: not ready: %s", "; ".join(result.problems))
        return jsonify(status="unavailable", checks=result.checks, reasons=result.problems), 503

    @app.get("/metrics")
    @limiter.exempt
    def prometheus() -> Any:
        """Prometheus text of this process; only for ``server.metrics_allowed`` addresses."""
        if not address_in(request.remote_addr, metrics_networks):
            abort(404)
        from tgd import metrics

        body = metrics.render(*app.extensions["tgd.collectors"])
        return Response(body, content_type=metrics.CONTENT_TYPE)

    for view in (healthz, readyz, prometheus):
        view._tgd_access = "public"  # type: ignore[attr-defined]  # read by the access test
