"""Public pages of the people's door: home and language choice."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from werkzeug.wrappers import Response as BaseResponse

from dispatch_ui.security import public

bp = Blueprint("web", __name__)

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


@bp.get("/")
@public
def home() -> str | BaseResponse:
    """Show the user's home, or send an anonymous visitor to the login page."""
    if g.get("user") is None and "auth.login" in _endpoints():
        return redirect(url_for("auth.login"))
    return render_template("home.html")


@bp.post("/langue")
@public
def set_language() -> Response:
    """Switch the interface language (French by default, English second)."""
    lang = request.form.get("lang", "fr")
    response = make_response(redirect(url_for("web.home")))
    response.set_cookie(
        "tgd_lang",
        lang if lang in ("fr", "en") else "fr",
        max_age=LANG_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
    )
    return response


def _endpoints() -> set[str]:
    return set(current_app.view_functions)


def init_app(app: Flask) -> None:
    """Expose the current locale to templates (``<html lang>``)."""

    @app.context_processor
    def _locale() -> dict[str, Any]:
        return {"current_locale": str(get_locale() or "fr")}
