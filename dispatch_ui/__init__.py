"""The door for people: console, prosecutors' portal, admin and reports, in French first."""

from __future__ import annotations

from flask import Flask

from dispatch_ui import (
    admin,
    auth,
    cases,
    console,
    console_geocode,
    console_sms,
    coverage_admin,
    errors,
    faults,
    formatting,
    intake,
    line_health,
    lines_admin,
    navigation,
    portal,
    realtime,
    reports,
    restrictions_admin,
    schedules,
    security,
    web,
    zones_admin,
)


def init_app(app: Flask) -> None:
    """Register the people's blueprints, template helpers and error pages (here, and only here)."""
    security.init_app(app)
    app.register_blueprint(web.bp)
    web.init_app(app)
    auth.init_app(app)
    cases.init_app(app)
    admin.init_app(app)
    console.init_app(app)
    console_sms.init_app(app)
    console_geocode.init_app(app)
    realtime.init_app(app)
    zones_admin.init_app(app)
    coverage_admin.init_app(app)
    restrictions_admin.init_app(app)
    portal.init_app(app)
    intake.init_app(app)
    lines_admin.init_app(app)
    reports.init_app(app)
    schedules.init_app(app)
    line_health.init_app(app)
    faults.init_app(app)
    formatting.init_app(app)
    navigation.init_app(app)
    errors.init_app(app)
