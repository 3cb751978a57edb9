"""The operators' console (R-20, R-23..R-29): live board, the file on screen, map, actions.

The page is a shell; ``static/js/console.js`` fills it from the JSON API below
and follows the live events (dispatch_ui/realtime.py). Every action is one
service call, audited, and announced to every console by an outbox event.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request
from flask_babel import gettext
from sqlalchemy import select

from dispatch_ui.console_geocode import geocode_places
from dispatch_ui.coverage_admin import cache as coverage_cache
from dispatch_ui.formatting import local_time
from dispatch_ui.security import audit_here, requires
from tgd.db.base import MAX_ID
from tgd.db.models.alerts import Alert
from tgd.db.models.forces import ForceUnit, Zone
from tgd.db.models.lines import Line
from tgd.db.models.users import User
from tgd.domain.alerts import AlertNature, Orientation
from tgd.domain.coverage import CoverageStatus
from tgd.domain.errors import N_, NotFound, ValidationError
from tgd.domain.restrictions import Channel
from tgd.domain.zones import PositionKind
from tgd.http import current_platform, db_session
from tgd.ports import Telephony
from tgd.services import console as console_service
from tgd.services import dispatch, handling, outbox, policy, tests_chase
from tgd.services import supervision as supervision_service
from tgd.services.policy import Permission

bp = Blueprint("console", __name__)
api = Blueprint("console_api", __name__, url_prefix="/api/console")

NATURE_LABELS = {
    AlertNature.DANGER_REEL: N_("danger réel"),
    AlertNature.ESSAI: N_("essai"),
    AlertNature.ACCIDENTEL: N_("appel accidentel"),
    AlertNature.DEMANDE_SOUTIEN: N_("demande de soutien"),
    AlertNature.TECHNIQUE: N_("technique"),
    AlertNature.NON_CONFORME: N_("utilisation non conforme"),
}
ORIENTATION_LABELS = {
    Orientation.FORCES_ALERTEES: N_("forces de l'ordre alertées"),
    Orientation.SOUTIEN: N_("soutien apporté"),
    Orientation.ASSOCIATION_CONTACTEE: N_("association contactée"),
    Orientation.AUCUNE: N_("aucune suite"),
    Orientation.AUTRE: N_("autre"),
}
KIND_LABELS = {
    PositionKind.GNSS: N_("position GPS de %(time)s, précision %(acc)s m"),
    PositionKind.OTHER_FIX: N_("position réseau de %(time)s, précision %(acc)s m"),
    PositionKind.TEMPORARY: N_("lieu de l'information temporaire en cours"),
    PositionKind.WORKPLACE: N_("lieu de travail (heures ouvrées)"),
    PositionKind.RESIDENCE: N_("domicile"),
}


def _nature_label(nature: AlertNature) -> str:
    label = NATURE_LABELS.get(nature)
    return str(gettext(label)) if label else str(gettext(N_("non qualifiée")))


def _zones() -> console_service.ZoneCache:
    cache: console_service.ZoneCache = current_app.extensions.setdefault(
        "tgd.zones", console_service.ZoneCache()
    )
    return cache


@bp.get("/console")
@requires(Permission.CONSOLE)
def index() -> Any:
    """The console shell; the script fills it."""
    settings = current_platform().settings
    config = {
        "escalateAfter": settings.alerts.escalate_after_seconds,
        "overflowAfter": settings.alerts.overflow_after_seconds,
        "tileUrl": settings.map.tile_url,
        "tileAttribution": settings.map.tile_attribution,
    }
    natures = [(n.value, gettext(label)) for n, label in NATURE_LABELS.items()]
    orientations = [(o.value, gettext(label)) for o, label in ORIENTATION_LABELS.items()]
    return render_template(
        "console/index.html", config=json.dumps(config), natures=natures, orientations=orientations
    )


@bp.get("/console/supervision")
@requires(Permission.SUPERVISE)
def supervision() -> Any:
    """Supervisors' board: open alerts by state and age, operators connected, figures (R-29)."""
    platform = current_platform()
    session, now = db_session(), platform.clock.now()
    hub = current_app.extensions["tgd_hub"]
    connected_ids = set(hub.connected.values())
    operators = (
        session.scalars(
            select(User).where(User.id.in_(connected_ids)).order_by(User.display_name)
        ).all()
        if connected_ids
        else []
    )
    figures = supervision_service.day_figures(
        session,
        now=now,
        timezone=platform.settings.default_timezone,
        pickup_target_s=platform.settings.alerts.escalate_after_seconds,
    )
    alerts = console_service.board(session)
    return render_template(
        "console/supervision.html",
        late_chases=tests_chase.escalated_tasks(session),
        alerts=alerts,
        now=now,
        operators=operators,
        figures=figures,
        ages={a.id: console_service.age_seconds(a, now) for a in alerts},
        escalate_after=platform.settings.alerts.escalate_after_seconds,
        timezone=platform.settings.default_timezone,
    )


def _alert_summary(alert: Alert, now: Any) -> dict[str, Any]:
    return {
        "id": alert.id,
        "reference": alert.reference,
        "state": alert.state.value,
        "is_test": alert.is_test,
        "identified": alert.line_id is not None,
        "operator_id": alert.operator_id,
        "escalated": alert.escalated_at is not None,
        "overflowed": alert.overflowed_at is not None,
        "police": alert.police_called_at is not None,
        "ringing_at": alert.ringing_at.isoformat(),
        "age": console_service.age_seconds(alert, now),
    }


@api.get("/board")
@requires(Permission.CONSOLE)
def board() -> Any:
    """Open alerts and the sequence the console can resume from."""
    session, clock = db_session(), current_platform().clock
    now = clock.now()
    return jsonify(
        head=outbox.last_published(session),
        now=now.isoformat(),
        me=g.user.id,
        alerts=[_alert_summary(a, now) for a in console_service.board(session)],
    )


@api.get("/events")
@requires(Permission.CONSOLE)
def events() -> Any:
    """What a console missed since ``after`` (the HTTP twin of the socket's ``resume``)."""
    after = request.args.get("after", "0")
    if not after.isdigit() or len(after) > 18:  # a sequence number, not a 64-bit overflow
        raise ValidationError(N_("Paramètre « after » invalide."))
    missed = outbox.events_since(db_session(), int(after))
    return jsonify(events=[e.as_json() for e in missed])


def _get_alert(alert_id: int) -> Alert:
    return policy.get_scoped(db_session(), g.user, Alert, alert_id)


def _reason(detail: console_service.AlertDetail) -> str | None:
    candidate = detail.proposal.candidate
    if candidate is None:
        return None
    params = {
        "time": local_time(candidate.at, detail.timezone, "HH:mm") if candidate.at else "",
        "acc": candidate.accuracy_m if candidate.accuracy_m is not None else "?",
    }
    return str(gettext(KIND_LABELS[candidate.kind], **params))


def _point(detail: console_service.AlertDetail, place: str) -> list[float] | None:
    point = console_service.place_point(detail.file, detail.points, place)
    return list(point) if point else None


def _file_json(detail: console_service.AlertDetail) -> dict[str, Any] | None:
    view = detail.file
    if view is None:
        return None
    p = view.personal
    return {
        "id": view.file.id,
        "number": view.file.number,
        "state": gettext(view.file.state.label),
        "name": f"{p.first_name} {p.last_name}",
        "birth_date": p.birth_date.strftime("%d/%m/%Y") if p.birth_date else None,
        "residence": p.residence.one_line(),
        "residence_coords": _point(detail, "residence"),
        "workplace": p.workplace.one_line(),
        "workplace_coords": _point(detail, "workplace"),
        "places": geocode_places(detail.points),  # how far to trust each point
        "workplace_hours": p.workplace_hours,
        "other_phones": list(p.other_phones),
        "parquet": view.juridiction.name,
        "magistrate": p.magistrate,
        "association": view.association.name if view.association else None,
        "association_phone": view.association.phone if view.association else None,
        "association_contact": p.association_contact,
        "remarks": p.remarks,
        "notes": p.notes,
        "temporary": [
            {
                "from": local_time(t.valid_from, detail.timezone),
                "until": local_time(t.valid_until, detail.timezone),
                "content": t.content,
                "current": t.is_current,
            }
            for t in view.temporary
        ],
        "recent": [
            {
                "id": a.id,
                "at": local_time(a.ringing_at, detail.timezone),
                "nature": a.nature.value,
                "is_test": a.is_test,
            }
            for a in view.alerts
            if a.id != detail.alert.id
        ][:5],
    }


@api.get("/alerts/<int:alert_id>")
@requires(Permission.CONSOLE)
def alert(alert_id: int) -> Any:
    """One alert with its file on screen (R-20), positions and the proposed force (R-25)."""
    platform = current_platform()
    found = _get_alert(alert_id)
    session = db_session()
    detail = console_service.alert_detail(
        session,
        found,
        cipher=platform.cipher,
        clock=platform.clock,
        zones=_zones(),
        default_timezone=platform.settings.default_timezone,
        coverage=coverage_cache(),
        viewer=g.user,
    )
    audit_here("alert.read", object_type="alert", object_id=found.id)
    if detail.file is not None:
        audit_here("file.read", object_type="file", object_id=detail.file.file.id)
    unit = detail.proposal.unit
    body = _alert_summary(found, platform.clock.now())
    body.update(
        timezone=detail.timezone,
        ringing_local=local_time(found.ringing_at, detail.timezone),
        msisdn=detail.file.msisdn if detail.file else None,
        file=_file_json(detail),
        note=handling.read_note(session, found, cipher=platform.cipher),
        positions=[
            {
                "lat": f.lat,
                "lon": f.lon,
                "accuracy": f.accuracy_m,
                "gnss": f.is_gnss,
                "at": local_time(f.captured_at, detail.timezone),
            }
            for f in detail.fixes
        ],
        proposal={
            "unit_id": unit.id if unit else None,
            "unit_name": unit.name if unit else None,
            "priority_number": unit.priority_number if unit else None,
            "kind": unit.kind.value if unit else None,
            "reason": _reason(detail),
            "point": [detail.proposal.candidate.lat, detail.proposal.candidate.lon]
            if detail.proposal.candidate
            else None,
        },
        units=[
            {"id": u.id, "name": u.name, "kind": u.kind.value, "number": u.priority_number}
            for u in detail.units
        ],
        coverage={k: v.value for k, v in detail.extra.get("coverage", {}).items()},
        warnings=_warnings(detail),
    )
    return jsonify(body)


COVERAGE_WARNINGS = {
    "residence": N_("Domicile hors de la couverture du réseau (zone blanche)."),
    "workplace": N_("Lieu de travail hors de la couverture du réseau (zone blanche)."),
    "position": N_(
        "Dernière position hors de la couverture du réseau (zone blanche) : "
        "la communication peut couper."
    ),
}


def _warnings(detail: console_service.AlertDetail) -> list[str]:
    """Coverage and call-restriction warnings, in the operator's language (issue 15)."""
    found = [
        str(gettext(COVERAGE_WARNINGS[name]))
        for name, status in detail.extra.get("coverage", {}).items()
        if status is CoverageStatus.OUTSIDE
    ]
    channel = detail.alert.restricted_channel
    if channel is Channel.VOICE:
        found.append(
            str(
                gettext(
                    "Appel vers un numéro hors de la liste autorisée de la ligne (%(number)s) : "
                    "la personne a été mise en relation avec le centre.",
                    number=detail.extra.get("dialled") or "?",
                )
            )
        )
    elif channel is Channel.SMS:
        found.append(str(gettext("SMS vers un numéro hors de la liste autorisée : non transmis.")))
    return found


@api.get("/zones")
@requires(Permission.CONSOLE)
def zones() -> Any:
    """The zones in force as GeoJSON, for the map."""
    rows = db_session().execute(
        select(Zone, ForceUnit)
        .join(ForceUnit, Zone.unit_id == ForceUnit.id)
        .where(Zone.valid_until.is_(None))
    )
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(zone.geometry_geojson),
            "properties": {"unit_id": unit.id, "name": unit.name, "kind": unit.kind.value},
        }
        for zone, unit in rows
    ]
    return jsonify(type="FeatureCollection", features=features)


def _telephony() -> Telephony:
    adapter: Telephony = current_app.extensions["tgd.telephony"]
    return adapter


def _callbacks() -> dispatch.Callbacks:
    base = current_platform().settings.twilio.public_base_url.rstrip("/")
    return dispatch.Callbacks(
        call_status=f"{base}/gateway/twilio/voice/status",
        conference_status=f"{base}/gateway/twilio/conference/status",
    )


def _ok(**extra: Any) -> Any:
    return jsonify(ok=True, **extra)


@api.post("/alerts/<int:alert_id>/claim")
@requires(Permission.CONSOLE)
def claim(alert_id: int) -> Any:
    """Take the alert (R-23): one operator wins, the others are told."""
    handling.claim_alert(db_session(), _get_alert(alert_id), g.user, clock=current_platform().clock)
    return _ok()


@api.post("/alerts/<int:alert_id>/force")
@requires(Permission.CONSOLE)
def add_force(alert_id: int) -> Any:
    """Dial a unit's priority line into the bridge (R-24)."""
    platform = current_platform()
    found = _get_alert(alert_id)
    unit_id = (request.get_json(silent=True) or {}).get("unit_id")
    unit = (
        db_session().get(ForceUnit, unit_id)
        if isinstance(unit_id, int) and 0 < unit_id <= MAX_ID
        else None
    )
    if unit is None or not unit.is_active:
        raise NotFound(N_("Unité inconnue."))
    dispatch.add_force(
        db_session(),
        found,
        unit,
        telephony=_telephony(),
        gateway=platform.settings.gateway,
        callbacks=_callbacks(),
        clock=platform.clock,
    )
    audit_here(
        "alert.add_force", object_type="alert", object_id=found.id, details={"unit_id": unit.id}
    )
    return _ok()


@api.post("/alerts/<int:alert_id>/callback")
@requires(Permission.CONSOLE)
def call_back(alert_id: int) -> Any:
    """Call the person back into the bridge (after a cut, or to check on them)."""
    platform = current_platform()
    found = _get_alert(alert_id)
    dispatch.call_back(
        db_session(),
        found,
        user_id=g.user.id,
        telephony=_telephony(),
        gateway=platform.settings.gateway,
        callbacks=_callbacks(),
        cipher=platform.cipher,
        clock=platform.clock,
    )
    audit_here("alert.call_back", object_type="alert", object_id=found.id)
    return _ok()


@api.post("/alerts/<int:alert_id>/leave")
@requires(Permission.CONSOLE)
def leave(alert_id: int) -> Any:
    """Leave the bridge without cutting the others (hand-over)."""
    found = _get_alert(alert_id)
    legs = dispatch.operator_leave(
        db_session(), found, telephony=_telephony(), clock=current_platform().clock
    )
    audit_here(
        "alert.operator_leave", object_type="alert", object_id=found.id, details={"legs": len(legs)}
    )
    return _ok(legs=len(legs))


@api.post("/alerts/<int:alert_id>/position")
@requires(Permission.CONSOLE)
def request_position(alert_id: int) -> Any:
    """Ask the terminal for its position (R-28)."""
    platform = current_platform()
    found = _get_alert(alert_id)
    line = db_session().get(Line, found.line_id) if found.line_id else None
    if line is None:
        raise ValidationError(N_("Appelant non identifié : aucune ligne à interroger."))
    dispatch.request_position(
        db_session(),
        line,
        user_id=g.user.id,
        telephony=_telephony(),
        gateway=platform.settings.gateway,
        clock=platform.clock,
    )
    audit_here("alert.request_position", object_type="alert", object_id=found.id)
    return _ok()


@api.post("/alerts/<int:alert_id>/note")
@requires(Permission.CONSOLE)
def note(alert_id: int) -> Any:
    """Add a line to the alert's note."""
    platform = current_platform()
    text = str((request.get_json(silent=True) or {}).get("text", ""))
    handling.add_note(
        db_session(),
        _get_alert(alert_id),
        g.user,
        text,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    return _ok()


@api.post("/alerts/<int:alert_id>/close")
@requires(Permission.CONSOLE)
def close(alert_id: int) -> Any:
    """Close the alert with nature, orientation and note (R-27)."""
    platform = current_platform()
    data = request.get_json(silent=True) or {}
    try:
        closure = handling.Closure(
            nature=AlertNature(data.get("nature", "")),
            orientation=Orientation(data.get("orientation", "")),
            note=str(data.get("note", "")),
            non_compliance_cause=str(data.get("cause", "")),
        )
    except ValueError:
        raise ValidationError(
            N_("Choisissez la nature de l'appel et l'orientation donnée.")
        ) from None
    handling.close_alert(
        db_session(),
        _get_alert(alert_id),
        g.user,
        closure,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    return _ok()


def init_app(app: Flask) -> None:
    """Register the console page and its API."""
    app.register_blueprint(bp)
    app.register_blueprint(api)
    app.extensions.setdefault("tgd.zones", console_service.ZoneCache())
