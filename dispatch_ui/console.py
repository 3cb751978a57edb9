"""The operators' console (R-20, R-23..R-29, E-08): live board, file, map, actions, lock.

The page is a shell; ``static/js/console*.js`` fill it from the JSON API below
and follow the live events (dispatch_ui/realtime.py). Every action is one
service call, audited, and announced to every console by an outbox event.
Actions that reach the carrier record their intent, commit, call the carrier
and record the outcome (``dispatch_ui/bridge.py``). While the operator's screen
is locked (E-08), nothing personal is served until the password is given again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext

from dispatch_ui import bridge
from dispatch_ui.console_geocode import geocode_places
from dispatch_ui.coverage_admin import cache as coverage_cache
from dispatch_ui.flashes import flash_refusal
from dispatch_ui.formatting import format_phone, local_time
from dispatch_ui.security import audit_read, current_session, reads_personal_data, requires
from tgd.db.base import MAX_ID
from tgd.db.models.alerts import Alert, CallLeg
from tgd.db.models.lines import Line
from tgd.db.models.users import UserSession
from tgd.domain import labels
from tgd.domain.alerts import AlertNature, AlertState, Orientation
from tgd.domain.coverage import CoverageStatus
from tgd.domain.errors import N_, Conflict, DomainError, ValidationError
from tgd.domain.restrictions import Channel
from tgd.domain.zones import PositionKind
from tgd.http import current_platform, db_session
from tgd.services import console as console_service
from tgd.services import dispatch, handling, operators, outbox, penalties, policy
from tgd.services import supervision as supervision_service
from tgd.services import zones as zones_service
from tgd.services.policy import Permission

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("console", __name__)
api = Blueprint("console_api", __name__, url_prefix="/api/console")

KIND_LABELS = {
    PositionKind.GNSS: N_("position GPS de %(time)s, précision %(acc)s m"),
    PositionKind.OTHER_FIX: N_("position réseau de %(time)s, précision %(acc)s m"),
    PositionKind.TEMPORARY: N_("lieu de l'information temporaire en cours"),
    PositionKind.WORKPLACE: N_("lieu de travail (heures ouvrées)"),
    PositionKind.RESIDENCE: N_("domicile"),
}


class ScreenLocked(DomainError):
    """E-08: the operator's console is locked; the password unlocks it."""

    http_status = 423


def unlocked(view: F) -> F:
    """Refuse a console view that serves personal data or acts while the screen is locked."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        record = current_session()
        if record is not None and record.locked_at is not None:
            raise ScreenLocked(N_("Console verrouillée : saisissez votre mot de passe."))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _label(template: str) -> str:
    return str(gettext(template))


def _zones() -> console_service.ZoneCache:
    cache: console_service.ZoneCache = current_app.extensions.setdefault(
        "tgd.zones", console_service.ZoneCache()
    )
    return cache


def _catalogue() -> dict[str, dict[str, str]]:
    """The French (or English) labels of every code the console shows (item 5)."""
    return {
        "natures": {n.value: _label(t) for n, t in labels.NATURES.items()},
        "orientations": {o.value: _label(t) for o, t in labels.ORIENTATIONS.items()},
        "states": {s.value: _label(t) for s, t in labels.STATES.items()},
        "roles": {r: _label(t) for r, t in labels.LEG_ROLES.items()},
        "legStatuses": {k: _label(t) for k, t in labels.LEG_STATUSES.items()},
    }


def _shell_config(record: UserSession | None) -> dict[str, Any]:
    """What the console's scripts need from the settings and the session (JSON in the page)."""
    settings = current_platform().settings
    return {
        "escalateAfter": settings.alerts.escalate_after_seconds,
        "overflowAfter": settings.alerts.overflow_after_seconds,
        "tileUrl": settings.map.tile_url,
        "tileAttribution": settings.map.tile_attribution,
        "lockAfter": settings.security.lock_idle_minutes * 60,
        "locked": record is not None and record.locked_at is not None,
        "me": g.user.id,
        "labels": _catalogue(),
    }


@bp.get("/console")
@requires(Permission.CONSOLE)
def index() -> Any:
    """The console shell; the scripts fill it."""
    record = current_session()
    line = operators.audio_line_of(g.user, record)
    natures = [(n.value, _label(labels.NATURES[n])) for n in labels.CLOSING_NATURES]
    orientations = [(o.value, _label(t)) for o, t in labels.ORIENTATIONS.items()]
    return render_template(
        "console/index.html",
        config=json.dumps(_shell_config(record)),
        natures=natures,
        orientations=orientations,
        audio_line=format_phone(line) if line else "",
        audio_line_raw=line or "",
    )


@bp.get("/console/supervision")
@requires(Permission.SUPERVISE)
def supervision() -> Any:
    """Supervisors' board: alerts by state and age, operators connected, figures, penalties."""
    platform = current_platform()
    overview = supervision_service.overview(
        db_session(), settings=platform.settings, clock=platform.clock
    )
    return render_template(
        "console/supervision.html",
        late_chases=overview.late_chases,
        alerts=overview.alerts,
        now=overview.now,
        operators=overview.operators,
        figures=overview.figures,
        exposure=overview.exposure,
        causes=[(c.value, _label(t)) for c, t in labels.EXEMPTIONS.items()],
        cause_labels={c.value: t for c, t in labels.EXEMPTIONS.items()},
        kind_labels=penalties.KIND_LABELS,
        ages=overview.ages,
        escalate_after=platform.settings.alerts.escalate_after_seconds,
        timezone=platform.settings.default_timezone,
    )


@bp.post("/console/supervision/retards/<int:breach_id>/exoneration")
@requires(Permission.SUPERVISE)
def exempt(breach_id: int) -> Any:
    """CCP VIII.5: mark a late call, file or swap exempt, with its documented cause."""
    try:
        penalties.exempt(
            db_session(),
            breach_id,
            cause=request.form.get("cause", ""),
            note=request.form.get("note", ""),
            user=g.user,
            clock=current_platform().clock,
        )
    except DomainError as refused:
        flash_refusal(refused)
    else:
        flash(gettext("Retard exonéré : il ne compte plus dans les pénalités."), "success")
    return redirect(url_for("console.supervision") + "#penalites")


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
        "ended": alert.ended_at is not None,
        "ringing_at": alert.ringing_at.isoformat(),
        "age": console_service.age_seconds(alert, now),
    }


@api.get("/board")
@requires(Permission.CONSOLE)
def board() -> Any:
    """Open alerts and the sequence the console can resume from (no personal data: it is
    also what the lock screen shows, E-08)."""
    session, clock = db_session(), current_platform().clock
    now = clock.now()
    record = current_session()
    return jsonify(
        head=outbox.last_published(session),
        now=now.isoformat(),
        me=g.user.id,
        locked=record is not None and record.locked_at is not None,
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


def _recent(detail: console_service.AlertDetail) -> list[dict[str, Any]]:
    assert detail.file is not None
    recent = sorted(
        (a for a in detail.file.alerts if a.id != detail.alert.id),
        key=lambda a: a.ringing_at,
        reverse=True,
    )
    return [
        {
            "id": a.id,
            "at": local_time(a.ringing_at, detail.timezone),
            "at_iso": a.ringing_at.isoformat(),
            "nature": _label(labels.nature_label(a.nature)),
            "orientation": _label(labels.orientation_label(a.orientation)) if a.orientation else "",
        }
        for a in recent
    ][:5]


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
        "other_phones": [format_phone(n) for n in p.other_phones],
        "parquet": view.juridiction.name,
        "magistrate": p.magistrate,
        "association": view.association.name if view.association else None,
        "association_phone": format_phone(view.association.phone) if view.association else None,
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
        "recent": _recent(detail),
    }


def _legs_json(alert: Alert) -> list[dict[str, Any]]:
    """The legs of the bridge, with their state in words (R-24d: ringing, in line, failed)."""
    legs = []
    for leg, unit in dispatch.legs_with_units(db_session(), alert):
        role = dispatch.leg_role_code(leg, unit.kind if unit else None)
        failed = leg.status in labels.FAILED_STATUSES or (
            leg.failure is not None and leg.ended_at is not None
        )
        legs.append(
            {
                "id": leg.id,
                "role": role,
                "role_label": _label(labels.LEG_ROLES.get(role, role)),
                "status": leg.status,
                "status_label": _label(labels.leg_status_label(leg.status)),
                "open": leg.ended_at is None,
                "failed": failed,
                "failure": bridge.failure_text(leg.failure) if leg.failure else "",
                "user_id": leg.user_id,
                "unit_id": leg.unit_id,
                "unit_name": unit.name if unit else None,
            }
        )
    return legs


@api.get("/alerts/<int:alert_id>")
@requires(Permission.CONSOLE)
@unlocked
@reads_personal_data
def alert(alert_id: int) -> Any:
    """One alert with its file on screen (R-20), positions and the proposed force (R-25)."""
    platform = current_platform()
    found = _get_alert(alert_id)
    detail = console_service.alert_detail(
        db_session(),
        found,
        cipher=platform.cipher,
        clock=platform.clock,
        zones=_zones(),
        default_timezone=platform.settings.default_timezone,
        coverage=coverage_cache(),
        viewer=g.user,
    )
    audit_read("alert.read", object_type="alert", object_id=found.id)
    if detail.file is not None:
        audit_read("file.read", object_type="file", object_id=detail.file.file.id)
    return jsonify(_alert_json(found, detail))


def _alert_json(found: Alert, detail: console_service.AlertDetail) -> dict[str, Any]:
    """The alert as the console shows it: summary, file, note, legs, positions, proposal."""
    platform = current_platform()
    body = _alert_summary(found, platform.clock.now())
    body.update(
        timezone=detail.timezone,
        ringing_local=local_time(found.ringing_at, detail.timezone),
        state_label=_label(labels.STATES[found.state]),
        nature_label=_label(labels.nature_label(found.nature)),
        msisdn=format_phone(detail.file.msisdn) if detail.file else None,
        file=_file_json(detail),
        note=handling.read_note(db_session(), found, cipher=platform.cipher),
        legs=_legs_json(found),
        positions=_positions_json(detail),
        proposal=_proposal_json(detail),
        units=[
            {
                "id": u.id,
                "name": u.name,
                "kind": u.kind.value,
                "number": format_phone(u.priority_number),
            }
            for u in detail.units
        ],
        coverage={k: v.value for k, v in detail.extra.get("coverage", {}).items()},
        warnings=_warnings(detail),
    )
    return body


def _positions_json(detail: console_service.AlertDetail) -> list[dict[str, Any]]:
    """The alert's fixes, in the territory's time."""
    return [
        {
            "lat": f.lat,
            "lon": f.lon,
            "accuracy": f.accuracy_m,
            "gnss": f.is_gnss,
            "at": local_time(f.captured_at, detail.timezone),
        }
        for f in detail.fixes
    ]


def _proposal_json(detail: console_service.AlertDetail) -> dict[str, Any]:
    """The proposed force (R-25), why, and the point it was chosen for."""
    unit, candidate = detail.proposal.unit, detail.proposal.candidate
    return {
        "unit_id": unit.id if unit else None,
        "unit_name": unit.name if unit else None,
        "priority_number": format_phone(unit.priority_number) if unit else None,
        "kind": unit.kind.value if unit else None,
        "reason": _reason(detail),
        "point": [candidate.lat, candidate.lon] if candidate else None,
    }


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
    return jsonify(zones_service.export_geojson(db_session()))


def _ok(**extra: Any) -> Any:
    return jsonify(ok=True, **extra)


def _dial_operator(found: Alert, *, redial: bool = False) -> Any:
    """R-24d: dial the operator's audio line into the bridge; answer with the leg's state.

    ``redial``: the operator asks again for a line already dialled once (audited).
    """
    platform = current_platform()
    line = operators.audio_line_of(g.user, current_session())
    if not line:
        raise Conflict(
            N_(
                "Aucune ligne audio pour votre poste : vous ne pouvez pas entendre la personne. "
                "Choisissez votre ligne (« Ma ligne audio ») ou demandez-la à un administrateur."
            )
        )
    dial = dispatch.redial_operator if redial else dispatch.dial_operator
    pending = dial(db_session(), found, user_id=g.user.id, line=line, clock=platform.clock)
    leg = bridge.dial(pending)
    if leg.status == "failed":
        return _ok(
            audio="failed",
            warning=gettext(
                "Votre ligne audio n'a pas pu être appelée : %(reason)s. Réessayez (touche A).",
                reason=bridge.failure_text(leg.failure),
            ),
        )
    return _ok(audio=leg.status)


def _require_line_before_claim() -> None:
    if not operators.audio_line_of(g.user, current_session()):
        raise Conflict(
            N_(
                "Impossible de prendre l'alerte : aucune ligne audio pour votre poste, vous "
                "n'entendriez pas la personne. Choisissez votre ligne (« Ma ligne audio ») ou "
                "demandez-la à un administrateur."
            )
        )


@api.post("/alerts/<int:alert_id>/claim")
@requires(Permission.CONSOLE)
@unlocked
def claim(alert_id: int) -> Any:
    """Take the alert (R-23) and dial the operator's audio line into its bridge (R-24d)."""
    _require_line_before_claim()
    found = _get_alert(alert_id)
    handling.claim_alert(db_session(), found, g.user, clock=current_platform().clock)
    return _dial_operator(found)


@api.post("/alerts/<int:alert_id>/audio")
@requires(Permission.CONSOLE)
@unlocked
def redial_operator(alert_id: int) -> Any:
    """Dial the operator's audio line again (after a failure, or after hanging up)."""
    found = _get_alert(alert_id)
    if found.state != AlertState.CLAIMED or found.operator_id != g.user.id:
        raise Conflict(N_("Vous ne tenez pas cette alerte : prenez-la d'abord."))
    return _dial_operator(found, redial=True)


def _json_id(key: str) -> int | None:
    """The id sent under ``key`` in the JSON body, if it is one the database can hold."""
    value = (request.get_json(silent=True) or {}).get(key)
    return value if isinstance(value, int) and 0 < value <= MAX_ID else None


@api.post("/alerts/<int:alert_id>/force")
@requires(Permission.CONSOLE)
@unlocked
def add_force(alert_id: int) -> Any:
    """Dial a unit's priority line into the bridge (R-24)."""
    platform = current_platform()
    found = _get_alert(alert_id)
    unit = dispatch.get_active_unit(db_session(), _json_id("unit_id"))
    pending = dispatch.add_force(db_session(), found, unit, user_id=g.user.id, clock=platform.clock)
    leg = bridge.dial(pending)
    if leg.status == "failed":
        raise bridge.CarrierFailed(
            N_(
                "%(unit)s n'a pas pu être appelé : %(reason)s. Réessayez, ou composez la ligne "
                "prioritaire %(number)s sur un autre poste."
            ),
            unit=unit.name,
            reason=bridge.failure_text(leg.failure),
            number=format_phone(unit.priority_number),
        )
    return _ok()


@api.post("/alerts/<int:alert_id>/callback")
@requires(Permission.CONSOLE)
@unlocked
def call_back(alert_id: int) -> Any:
    """Call the person back into the bridge (after a cut, or to check on them)."""
    platform = current_platform()
    found = _get_alert(alert_id)
    pending = dispatch.call_back(
        db_session(), found, user_id=g.user.id, cipher=platform.cipher, clock=platform.clock
    )
    leg = bridge.dial(pending)
    if leg.status == "failed":
        raise bridge.CarrierFailed(
            N_("Le rappel n'a pas pu être passé : %(reason)s. Réessayez."),
            reason=bridge.failure_text(leg.failure),
        )
    return _ok()


def _leave(found: Alert) -> list[CallLeg]:
    removals = dispatch.operator_leave(
        db_session(), found, user_id=g.user.id, clock=current_platform().clock
    )
    return bridge.leave(removals)


@api.post("/alerts/<int:alert_id>/leave")
@requires(Permission.CONSOLE)
@unlocked
def leave(alert_id: int) -> Any:
    """Leave the bridge without cutting the others (hand-over, R-24)."""
    legs = _leave(_get_alert(alert_id))
    failed = [leg for leg in legs if leg.status != dispatch.LEFT]
    if failed:
        raise bridge.CarrierFailed(
            N_("Vous n'avez pas pu quitter le pont : %(reason)s. Réessayez."),
            reason=bridge.failure_text(failed[0].failure),
        )
    return _ok(legs=len(legs))


@api.post("/alerts/<int:alert_id>/position")
@requires(Permission.CONSOLE)
@unlocked
def request_position(alert_id: int) -> Any:
    """Ask the terminal for its position (R-28)."""
    platform = current_platform()
    found = _get_alert(alert_id)
    line = db_session().get(Line, found.line_id) if found.line_id else None
    if line is None:
        raise ValidationError(N_("Appelant non identifié : aucune ligne à interroger."))
    request_row = dispatch.request_position(
        db_session(), line, user_id=g.user.id, clock=platform.clock
    )
    failure = bridge.send_position_request(request_row.id, line.msisdn)
    if failure is not None:
        raise bridge.CarrierFailed(
            N_("La demande de position n'a pas pu être envoyée : %(reason)s. Réessayez."),
            reason=bridge.failure_text(failure),
        )
    return _ok()


@api.post("/alerts/<int:alert_id>/note")
@requires(Permission.CONSOLE)
@unlocked
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


def _closure(data: dict[str, Any]) -> handling.Closure:
    """Read the closing form's JSON (R-27); a missing nature or orientation is refused."""
    try:
        return handling.Closure(
            nature=AlertNature(data.get("nature", "")),
            orientation=Orientation(data.get("orientation", "")),
            note=str(data.get("note", "")),
            non_compliance_cause=str(data.get("cause", "")),
        )
    except ValueError:
        raise ValidationError(
            N_("Choisissez la nature de l'appel et l'orientation donnée.")
        ) from None


@api.post("/alerts/<int:alert_id>/close")
@requires(Permission.CONSOLE)
@unlocked
def close(alert_id: int) -> Any:
    """Close the alert with nature, orientation and note (R-27); the operator's line leaves."""
    platform = current_platform()
    closure = _closure(request.get_json(silent=True) or {})
    found = _get_alert(alert_id)
    handling.close_alert(
        db_session(), found, g.user, closure, cipher=platform.cipher, clock=platform.clock
    )
    legs = _leave(found)  # a closed alert keeps no operator on the line
    if any(leg.status != dispatch.LEFT for leg in legs):
        return _ok(
            warning=gettext(
                "Alerte close, mais votre ligne n'a pas pu quitter le pont : raccrochez votre "
                "téléphone."
            )
        )
    return _ok()


@api.post("/audio-line")
@requires(Permission.CONSOLE)
@unlocked
def shift_line() -> Any:
    """Choose the audio line of this shift (R-24d)."""
    record = current_session()
    if record is None:
        raise Conflict(N_("Session introuvable : reconnectez-vous."))
    text = str((request.get_json(silent=True) or {}).get("line", ""))
    line = operators.choose_shift_line(db_session(), record, text, clock=current_platform().clock)
    return _ok(line=line, display=format_phone(line) if line else "")


@api.post("/lock")
@requires(Permission.CONSOLE)
def lock() -> Any:
    """E-08: lock this console (idle, or the operator's own key)."""
    record = current_session()
    if record is not None:
        operators.lock_screen(db_session(), record, clock=current_platform().clock)
    return _ok(locked=True)


@api.post("/unlock")
@requires(Permission.CONSOLE)
def unlock() -> Any:
    """E-08: unlock with the password; the socket and the ringing never stopped."""
    record = current_session()
    if record is None:
        raise Conflict(N_("Session introuvable : reconnectez-vous."))
    password = str((request.get_json(silent=True) or {}).get("password", ""))
    platform = current_platform()
    # argon2: before the write lock
    matches = operators.password_matches(record, password, hasher=platform.hasher)
    try:
        operators.unlock_screen(db_session(), record, matches, clock=platform.clock)
    except operators.PasswordRefused:
        from tgd.http import commit

        commit()  # keep the failure count (and the ended session) even though we refuse
        raise
    return _ok(locked=False)


# What a locked session may still reach (E-08): the console (it shows the lock screen and
# keeps ringing), its board and events, the unlock, the logout, the language and the assets.
OPEN_WHEN_LOCKED = frozenset(
    {
        "console.index",
        "console_api.board",
        "console_api.events",
        "console_api.zones",
        "console_api.lock",
        "console_api.unlock",
        "auth.logout",
        "web.set_language",
        "static",
        "healthz",
    }
)


def _keep_locked() -> Any:
    """E-08: a locked session reaches nothing else until the password unlocks it."""
    record = current_session()
    if record is None or record.locked_at is None or request.endpoint in OPEN_WHEN_LOCKED:
        return None
    if request.path.startswith("/api/") or request.path.startswith("/gateway/"):
        return None if request.path.startswith("/gateway/") else _locked_answer()
    return redirect(url_for("console.index"))


def _locked_answer() -> Any:
    response = jsonify(error=gettext("Console verrouillée : saisissez votre mot de passe."))
    response.status_code = 423
    return response


def init_app(app: Flask) -> None:
    """Register the console page and its API, and the lock that covers every page (E-08)."""
    app.register_blueprint(bp)
    app.register_blueprint(api)
    app.before_request(_keep_locked)  # after security.load_user, which resolves the session
    app.extensions.setdefault("tgd.zones", console_service.ZoneCache())
