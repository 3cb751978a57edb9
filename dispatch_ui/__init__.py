"""The door for people: console, prosecutors' portal, admin and reports, in French first."""

from __future__ import annotations

from flask import Flask

from dispatch_ui import errors, navigation, web


def init_app(app: Flask) -> None:
    """Register the people's blueprints, template helpers and error pages."""
    app.register_blueprint(web.bp)
    web.init_app(app)
    navigation.init_app(app)
    errors.init_app(app)
