"""Flask glue shared by the two doors: the platform of the current app and the request session.

One transaction per request (Indico's habit): the first call to
``db_session()`` opens it; the app commits it after a successful response and
rolls it back on any error. A door that must be durable *before* it answers
(the gateway, E-01) calls ``commit()`` itself.
"""

from __future__ import annotations

from flask import current_app, g, request
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from tgd.container import Platform
from tgd.db.session import begin_write


def current_platform() -> Platform:
    """Return the platform the current Flask app was built with."""
    platform: Platform = current_app.extensions["tgd"]
    return platform


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db_session() -> Session:
    """Return the request's session, opening it on first use.

    Requests that may write (POST…) start as writers (``begin_write``): on SQLite they
    queue for the write lock instead of failing when another writer committed after
    their first read. Reading requests stay lock-free; the little they write (audit of
    a read, session bookkeeping) goes through ``write_transaction`` of its own.
    """
    if "db_session" not in g:
        session = current_platform().sessions()
        if request.method not in SAFE_METHODS:
            begin_write(session)
        g.db_session = session
    result: Session = g.db_session
    return result


def is_safe_request() -> bool:
    """Tell whether the request only reads (GET, HEAD, OPTIONS)."""
    return request.method in SAFE_METHODS


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
    """Commit the request's transaction now (before answering a carrier, E-01)."""
    if "db_session" in g:
        g.db_session.commit()


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
