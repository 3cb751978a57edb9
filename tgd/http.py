"""Flask glue shared by the two doors: the platform of the current app and the request session.

One session per request (Indico's habit), under the write discipline of
``tgd.db.writes``. Who is asking is resolved first, in a short reading
transaction of that session (``request_reader``) that ends before the view runs.
The view's first ``db_session()`` then opens the request's transaction: a reader
for GET, HEAD and OPTIONS, a writer (the write gate, then ``BEGIN IMMEDIATE``) for
any other method, so a writing request holds the database only from its view's
first query to its commit. The app commits after a successful response and rolls
back on any error. A door that must be durable *before* it answers (the gateway,
E-01) commits itself; a view that must call the carrier commits first
(``commit()``), then calls, then records the outcome in a new transaction.
"""

from __future__ import annotations

from flask import Response, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from tgd.container import Platform
from tgd.db.writes import Priority, begin_write, is_writer
from tgd.ports import Telephony
from tgd.services import audit

# The storage is chosen per app (``RATELIMIT_STORAGE_URI``): Redis when configured, so that
# every app process counts the same attempts; in memory for the embedded mode. Here, not in
# ``tgd.app``, so that a door's view can declare its limit without importing the other door.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def add_security_headers(response: Response, csp: str) -> None:
    """Set the headers every answer of both doors carries (E-10)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", csp)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"  # E-10: pages may show personal data


def current_platform() -> Platform:
    """Return the platform the current Flask app was built with."""
    platform: Platform = current_app.extensions["tgd"]
    return platform


def telephony() -> Telephony:
    """Return the platform's telephony adapter (built in ``tgd/container.py``)."""
    adapter = current_platform().telephony
    assert adapter is not None, "create_app completes the platform"
    return adapter


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _session() -> Session:
    if "db_session" not in g:
        g.db_session = current_platform().sessions()
        # What the services audit in this request carries the client's address (ProxyFix's
        # when proxies are trusted), as what the door audits does.
        g.db_session.info[audit.SOURCE_KEY] = (request.remote_addr or "unknown")[:64]
    result: Session = g.db_session
    return result


def request_label() -> str:
    """Name the unit of work for the write gate's log (method and route, no ids)."""
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    return f"{request.method} {rule}"


def db_session() -> Session:
    """Return the request's session; a writing request's transaction begins as a writer."""
    if not is_safe_request():
        return write_from_here()
    return _session()


def write_from_here() -> Session:
    """Make the request's session a writer from now on (its reading transaction ends first).

    Writing requests get this from ``db_session()``; a reading page that must record
    something (a read receipt) calls it before it writes.
    """
    session = _session()
    if not is_writer(session):
        if session.in_transaction():
            session.commit()  # the read ends here; objects stay loaded
        begin_write(session, priority=Priority.PEOPLE, label=request_label())
    return session


def request_reader() -> Session:
    """Return the request's session for a read that ends before the view (``end_read``)."""
    return _session()


def end_read() -> None:
    """End the request's reading transaction (nothing was written; objects stay loaded)."""
    session: Session | None = g.get("db_session")
    if session is not None and session.in_transaction() and not is_writer(session):
        session.commit()


def is_safe_request() -> bool:
    """Tell whether the request only reads (GET, HEAD, OPTIONS)."""
    return request.method in SAFE_METHODS


def request_writes() -> bool:
    """Tell whether the request's session holds a write transaction now."""
    session: Session | None = g.get("db_session")
    return session is not None and is_writer(session)


def request_has_written() -> bool:
    """Tell whether the request's own transaction has changes (pending or flushed)."""
    if "db_session" not in g:
        return False
    session: Session = g.db_session
    return bool(session.new or session.dirty or session.deleted or session.info.get("wrote"))


def track_writes(sessions: sessionmaker[Session]) -> None:
    """Remember, per session, that a flush wrote something (see ``request_has_written``)."""

    def _after_flush(session: Session, _context: object) -> None:
        session.info["wrote"] = True

    def _clear(session: Session, *_args: object) -> None:
        session.info.pop("wrote", None)

    event.listen(sessions, "after_flush", _after_flush)
    event.listen(sessions, "after_commit", _clear)
    event.listen(sessions, "after_rollback", _clear)


def commit() -> None:
    """Commit the request's transaction now (before calling the carrier, E-01)."""
    if "db_session" in g:
        g.db_session.commit()


def rollback() -> None:
    """Roll the request's transaction back now (a refused request keeps nothing)."""
    if "db_session" in g:
        g.db_session.rollback()


def finish_request(error: BaseException | None, *, success: bool) -> None:
    """Commit or roll back the request's transaction and close its session."""
    session: Session | None = g.pop("db_session", None)
    if session is None:
        return
    try:
        if error is None and success:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()
