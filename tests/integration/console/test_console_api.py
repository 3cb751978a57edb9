"""The console's API (R-20, R-23, R-25, R-27): an alert from a webhook, handled to the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.integration.console.conftest import csrf_headers
from tests.integration.gateway.conftest import TwilioClient
from tgd.adapters.clock import FrozenClock
from tgd.adapters.fake_twilio import FakeTwilio
from tgd.container import Platform
from tgd.db.models import Alert, AuditEntry, CallLeg, ConsoleEvent, ForceUnit
from tgd.domain.alerts import AlertState, LegRole
from tgd.services import dispatch
from tgd.services.escalation import run_escalation

Login = Callable[[str], FlaskClient]


def open_alert(carrier: TwilioClient, sid: str = "CAconsole0001") -> int:
    assert carrier.call(sid).status_code == 200
    board = carrier.client  # the carrier has no session; read the id from the database instead
    del board
    return 0


def alert_id(platform: Platform, sid: str = "CAconsole0001") -> int:
    with platform.sessions() as s:
        found = s.scalar(select(Alert.id).where(Alert.call_sid == sid))
        assert found is not None
        return found


def post(client: FlaskClient, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json=body or {}, headers=csrf_headers(client))


def test_new_alert_is_on_the_board_with_its_file_and_force(
    login: Login, carrier: TwilioClient, platform: Platform
) -> None:
    operator = login("operateur")
    open_alert(carrier)
    board = operator.get("/api/console/board").get_json()
    assert [a["reference"] for a in board["alerts"]] == ["M 75 75056 01 1"]
    detail = operator.get(f"/api/console/alerts/{alert_id(platform)}").get_json()
    assert detail["file"]["name"] == "Camille Lefebvre-Démo"
    assert "Auteur des violences" in detail["file"]["remarks"]
    # Monday 10:30 in Paris: working hours, so the workplace decides the force.
    assert detail["proposal"]["reason"] == "lieu de travail (heures ouvrées)"
    assert detail["proposal"]["unit_name"] == "Préfecture de police — salle de commandement"


def test_fresh_gps_fix_decides_the_force(
    login: Login, carrier: TwilioClient, platform: Platform, clock: FrozenClock
) -> None:
    operator = login("operateur")
    open_alert(carrier)
    sms = (
        'A"ML=1;lt=+48.85890;lg=+2.38000;rd=20;top=20261123092900;lc=68;pm=G;'
        "si=1;ei=1;mcc=208;mnc=1;ml=120"
    )
    response = carrier.post(
        "/gateway/twilio/sms",
        {"MessageSid": "SMconsole1", "From": "+33612340001", "To": "+33199000000", "Body": sms},
    )
    assert response.status_code in (200, 201, 204)
    detail = operator.get(f"/api/console/alerts/{alert_id(platform)}").get_json()
    assert detail["proposal"]["unit_name"] == "Commissariat central du 11e arrondissement"
    assert detail["proposal"]["reason"].startswith("position GPS de 10:29")
    assert detail["positions"][0]["accuracy"] == 20


def test_opening_an_alert_audits_the_file_read(
    login: Login, carrier: TwilioClient, platform: Platform
) -> None:
    operator = login("operateur")
    open_alert(carrier)
    operator.get(f"/api/console/alerts/{alert_id(platform)}")
    with platform.sessions() as s:
        actions = list(s.scalars(select(AuditEntry.action)))
    assert "file.read" in actions and "alert.read" in actions


def test_two_operators_claim_at_once_one_wins(
    login: Login, carrier: TwilioClient, platform: Platform
) -> None:
    first, second = login("operateur"), login("superviseur")
    open_alert(carrier)
    url = f"/api/console/alerts/{alert_id(platform)}/claim"
    assert post(first, url).status_code == 200
    refused = post(second, url)
    assert refused.status_code == 409
    assert (
        refused.get_json()["error"]
        == "Cette alerte a déjà été prise en charge par un autre téléassisteur."
    )


def test_add_the_proposed_force_then_hand_over_then_close(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    operator = login("operateur")
    open_alert(carrier)
    aid = alert_id(platform)
    detail = operator.get(f"/api/console/alerts/{aid}").get_json()
    assert post(operator, f"/api/console/alerts/{aid}/claim").status_code == 200
    assert (
        post(
            operator, f"/api/console/alerts/{aid}/force", {"unit_id": detail["proposal"]["unit_id"]}
        ).status_code
        == 200
    )
    with platform.sessions() as s:
        legs = s.scalars(select(CallLeg.role).where(CallLeg.alert_id == aid)).all()
        assert LegRole.POLICE in legs
        unit = s.get(ForceUnit, detail["proposal"]["unit_id"])
        assert unit is not None
    assert any(r.value("To") == unit.priority_number for r in fake.requests)
    assert detail["proposal"]["priority_number"].startswith("01 ")  # formatted for reading
    assert post(operator, f"/api/console/alerts/{aid}/leave").status_code == 200
    closed = post(
        operator,
        f"/api/console/alerts/{aid}/close",
        {"nature": "danger_reel", "orientation": "forces_alertees", "note": "RAS"},
    )
    assert closed.status_code == 200
    with platform.sessions() as s:
        alert = s.get(Alert, aid)
        assert alert is not None and alert.state is AlertState.CLOSED
        assert alert.police_called_at is not None and alert.orientation is not None
        assert b"RAS" not in (alert.note_enc or b"")  # the note is encrypted


def test_closing_without_a_nature_is_refused_in_french(
    login: Login, carrier: TwilioClient, platform: Platform
) -> None:
    operator = login("operateur")
    open_alert(carrier)
    response = post(
        operator,
        f"/api/console/alerts/{alert_id(platform)}/close",
        {"nature": "", "orientation": ""},
    )
    assert response.status_code == 400
    assert "Choisissez la nature" in response.get_json()["error"]


def test_non_compliant_use_needs_a_cause(
    login: Login, carrier: TwilioClient, platform: Platform
) -> None:
    operator = login("operateur")
    open_alert(carrier)
    response = post(
        operator,
        f"/api/console/alerts/{alert_id(platform)}/close",
        {"nature": "non_conforme", "orientation": "aucune"},
    )
    assert response.status_code == 400 and "non-conformité" in response.get_json()["error"]


def test_parquet_has_no_console(login: Login) -> None:
    assert login("parquet.paris").get("/api/console/board").status_code == 403


def test_events_have_a_gapless_sequence(login: Login, carrier: TwilioClient) -> None:
    operator = login("operateur")
    open_alert(carrier, "CAseq1")
    open_alert(carrier, "CAseq2")
    events = operator.get("/api/console/events?after=0").get_json()["events"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e["kind"] for e in events].count("alert_opened") == 2
    later = operator.get(f"/api/console/events?after={seqs[0]}").get_json()["events"]
    assert [e["seq"] for e in later] == seqs[1:]


def test_bad_after_parameter_is_refused(login: Login) -> None:
    response = login("operateur").get("/api/console/events?after=abc")
    assert response.status_code == 400


def test_unclaimed_alert_escalates_then_overflows(
    app: Flask, carrier: TwilioClient, platform: Platform, clock: FrozenClock, fake: FakeTwilio
) -> None:
    open_alert(carrier)

    def escalate() -> None:
        run_escalation(
            platform.sessions,
            settings=platform.settings,
            telephony=app.extensions["tgd.telephony"],
            callbacks=dispatch.Callbacks("http://tgd.test/status", "http://tgd.test/conference"),
            clock=clock,
        )

    clock.advance(seconds=platform.settings.alerts.escalate_after_seconds + 1)
    escalate()
    with platform.sessions() as s:
        alert = s.get(Alert, alert_id(platform))
        assert alert is not None and alert.escalated_at is not None and alert.overflowed_at is None
    clock.advance(seconds=platform.settings.alerts.overflow_after_seconds)
    escalate()
    escalate()  # idempotent: a second pass does nothing more
    with platform.sessions() as s:
        alert = s.get(Alert, alert_id(platform))
        assert alert is not None and alert.overflowed_at is not None
        overflow_legs = s.scalars(
            select(CallLeg).where(CallLeg.alert_id == alert.id, CallLeg.role == LegRole.OVERFLOW)
        ).all()
        assert len(overflow_legs) == 1 and overflow_legs[0].call_sid is not None
    dials = [r for r in fake.requests if r.path.endswith("/Participants.json")]
    assert len(dials) == 1  # the backup line was dialled once, after the commit
    with platform.sessions() as s:  # announced to the consoles and audited, once each
        aid = alert_id(platform)
        announced = [
            (e.kind, e.payload)
            for e in s.scalars(
                select(ConsoleEvent)
                .where(ConsoleEvent.kind.in_(["alert_escalated", "alert_overflowed"]))
                .order_by(ConsoleEvent.seq)
            )
        ]
        audited = [
            (e.action, e.object_id, e.details)
            for e in s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.in_(["alert.escalate", "alert.overflow"]))
                .order_by(AuditEntry.id)
            )
        ]
        leg_events = s.scalars(
            select(ConsoleEvent.payload).where(ConsoleEvent.kind == "leg_updated")
        ).all()
    assert announced == [
        ("alert_escalated", {"alert_id": aid}),
        ("alert_overflowed", {"alert_id": aid, "dialled": True}),
    ]
    assert audited == [
        ("alert.escalate", str(aid), {}),
        ("alert.overflow", str(aid), {"dialled": True}),
    ]
    overflow_id = overflow_legs[0].id
    assert [p["status"] for p in leg_events if p["leg_id"] == overflow_id][:2] == [
        "dialling",
        "queued",
    ]


def test_supervisor_sees_the_board_and_the_figures_of_the_day(
    login: Login, carrier: TwilioClient, platform: Platform
) -> None:
    operator = login("operateur")
    open_alert(carrier)
    post(operator, f"/api/console/alerts/{alert_id(platform)}/claim")
    page = login("superviseur").get("/console/supervision").get_data(as_text=True)
    assert "M 75 75056 01 1" in page and "Niveaux de service du jour" in page
    assert operator.get("/console/supervision").status_code == 403


def test_operator_calls_the_person_back_into_the_bridge(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    operator = login("operateur")
    open_alert(carrier)
    aid = alert_id(platform)
    assert post(operator, f"/api/console/alerts/{aid}/callback").status_code == 200
    with platform.sessions() as s:
        roles = s.scalars(select(CallLeg.role).where(CallLeg.alert_id == aid)).all()
    assert LegRole.CALLBACK in roles
    assert any("+33612340001" in str(r) for r in fake.requests)
    with platform.sessions() as s:
        entries = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "alert.call_back", AuditEntry.object_id == str(aid)
            )
        ).all()
    assert len(entries) == 1 and entries[0].source == "127.0.0.1"  # audited by the service
