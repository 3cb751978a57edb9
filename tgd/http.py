"""Flask glue shared by the two doors: the platform of the current app and the request session.

One transaction per request (Indico's habit): the first call to
``db_session()`` opens it; the app commits it after a successful response and
rolls it back on any error. A door that must be durable *before* it answers
(the gateway, E-01) calls ``commit()`` itself.
"""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from tgd.container import Platform


def current_platform() -> Platform:
    """Return the platform the current Flask app was built with."""
    platform: Platform = current_app.extensions["tgd"]
    return platform


def db_session() -> Session:
    """Return the request's session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = current_platform().sessions()
    session: Session = g.db_session
    return session


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
