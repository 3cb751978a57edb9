"""The operator's seat (R-24d, E-08, issue 13): the audio line dialled at claim, hand-over,
carrier failures on every action, the screen lock, and `tgd alerts show`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.integration.console.conftest import csrf_headers
from tests.integration.gateway.conftest import PUBLIC, TwilioClient
from tgd.adapters.fake_twilio import FakeTwilio
from tgd.container import Platform
from tgd.db.models import (
    Alert,
    AuditEntry,
    CallLeg,
    ConsoleEvent,
    PositionRequest,
    User,
    UserSession,
)
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertState, LegRole
from tgd.services.alerts import show_alert

Login = Callable[[str], FlaskClient]
OPERATOR_LINE = "+33199001001"  # the demo operator's audio line


def _alert(platform: Platform, carrier: TwilioClient, sid: str = "CAseat0001") -> int:
    assert carrier.call(sid).status_code == 200
    with platform.sessions() as s:
        found = s.scalar(select(Alert.id).where(Alert.call_sid == sid))
        assert found is not None
        return found


def post(client: FlaskClient, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json=body or {}, headers=csrf_headers(client))


def audited(platform: Platform, action: str, object_id: int) -> list[AuditEntry]:
    """The audit entries of ``action`` on the object ``object_id``, once each action."""
    with platform.sessions() as s:
        return list(
            s.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == action, AuditEntry.object_id == str(object_id)
                )
            )
        )


def legs(platform: Platform, alert_id: int) -> list[dict[str, Any]]:
    with platform.sessions() as s:
        shown = show_alert(s, alert_id)
        assert shown is not None
        return list(shown["legs"])


def deliver(fake: FakeTwilio, carrier: TwilioClient) -> int:
    """The fake carrier's callbacks, delivered signed to the app (what Twilio would send)."""

    def send(url: str, params: dict[str, str]) -> None:
        path = url[len(PUBLIC) :]
        assert carrier.post(path, params).status_code == 200

    return fake.deliver_pending(send)


def test_claim_dials_the_operators_line_into_the_bridge(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    operator = login("operateur")
    aid = _alert(platform, carrier)
    answer = post(operator, f"/api/console/alerts/{aid}/claim")
    assert answer.status_code == 200 and answer.get_json()["audio"] == "queued"
    [dialled] = [r for r in fake.requests if r.path.endswith("/Participants.json")]
    assert dialled.value("To") == OPERATOR_LINE
    assert dialled.value("EndConferenceOnExit") == "false"  # R-24b: never ends the bridge
    assert legs(platform, aid)[-1] == {**legs(platform, aid)[-1], "role": "operator"}
    assert deliver(fake, carrier) >= 3  # ringing, in-progress, participant-join
    detail = operator.get(f"/api/console/alerts/{aid}").get_json()
    [leg] = [leg for leg in detail["legs"] if leg["role"] == "operator"]
    assert leg["status"] == "in-progress" and leg["status_label"] == "en ligne"
    # Whether the fake's clock has reached the answer yet depends on the machine's speed:
    # only the operator's line may be in the bridge, never a second dial.
    assert all(call.to == OPERATOR_LINE for call in fake.in_bridge())
    kinds = [e["kind"] for e in operator.get("/api/console/events?after=0").get_json()["events"]]
    assert "leg_updated" in kinds


def test_an_operator_without_an_audio_line_cannot_claim_and_is_told_why(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    with write_transaction(platform.sessions) as s:
        s.scalars(select(User).where(User.username == "operateur")).one().audio_line = None
    operator = login("operateur")
    aid = _alert(platform, carrier)
    refused = post(operator, f"/api/console/alerts/{aid}/claim")
    assert refused.status_code == 409
    assert "aucune ligne audio" in refused.get_json()["error"]
    with platform.sessions() as s:
        alert = s.get(Alert, aid)
        assert alert is not None and alert.state is AlertState.RINGING
    assert fake.requests == []


def test_a_shift_line_is_dialled_instead_of_the_accounts(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    operator = login("operateur")
    bad = post(operator, "/api/console/audio-line", {"line": "pas un numéro"})
    assert bad.status_code == 400 and "Ligne audio invalide" in bad.get_json()["error"]
    chosen = post(operator, "/api/console/audio-line", {"line": "sip:poste12@centre.example"})
    assert chosen.status_code == 200 and chosen.get_json()["line"] == "sip:poste12@centre.example"
    aid = _alert(platform, carrier)
    post(operator, f"/api/console/alerts/{aid}/claim")
    assert fake.requests[-1].value("To") == "sip:poste12@centre.example"


def test_a_refused_operator_dial_keeps_the_claim_says_why_and_can_be_retried(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    operator = login("operateur")
    aid = _alert(platform, carrier)
    fake.fail_next(500)
    answer = post(operator, f"/api/console/alerts/{aid}/claim")
    body = answer.get_json()
    assert answer.status_code == 200 and body["audio"] == "failed"
    assert (
        "l'opérateur téléphonique a refusé l'appel (erreur HTTP 500, code 20500)" in body["warning"]
    )
    detail = operator.get(f"/api/console/alerts/{aid}").get_json()
    assert detail["state"] == "claimed"
    [failed] = detail["legs"][-1:]
    assert failed["failed"] and "refusé" in failed["failure"]
    retry = post(operator, f"/api/console/alerts/{aid}/audio")
    assert retry.status_code == 200 and retry.get_json()["audio"] == "queued"
    statuses = [(leg["role"], leg["status"]) for leg in legs(platform, aid)]
    assert statuses[-2:] == [("operator", "failed"), ("operator", "queued")]
    [redial] = audited(platform, "alert.operator_redial", aid)  # audited by the service
    assert redial.actor.startswith("user:") and redial.source == "127.0.0.1"


def test_an_unanswered_operator_line_shows_no_answer(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    fake.unreachable.add(OPERATOR_LINE)
    operator = login("operateur")
    aid = _alert(platform, carrier)
    post(operator, f"/api/console/alerts/{aid}/claim")
    deliver(fake, carrier)
    [leg] = [
        leg
        for leg in operator.get(f"/api/console/alerts/{aid}").get_json()["legs"]
        if leg["role"] == "operator"
    ]
    assert leg["status"] == "no-answer" and leg["failed"]
    assert leg["failure"] == "personne n'a décroché"


def test_hand_over_removes_the_operator_and_leaves_caller_and_police(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    operator = login("operateur")
    aid = _alert(platform, carrier)
    post(operator, f"/api/console/alerts/{aid}/claim")
    unit = operator.get(f"/api/console/alerts/{aid}").get_json()["proposal"]["unit_id"]
    assert post(operator, f"/api/console/alerts/{aid}/force", {"unit_id": unit}).status_code == 200
    deliver(fake, carrier)
    answer = post(operator, f"/api/console/alerts/{aid}/leave")
    assert answer.status_code == 200 and answer.get_json()["legs"] == 1
    deliver(fake, carrier)
    by_role = {leg["role"]: leg["status"] for leg in legs(platform, aid)}
    assert by_role["operator"] in ("left", "completed", "canceled")
    assert by_role["police"] == "in-progress" and by_role["caller"] == "ringing"
    deletes = [r for r in fake.requests if r.method == "DELETE" or r.value("Status")]
    assert len(deletes) == 1  # only the operator's leg was taken out
    # The services audit each action once, with the request's address.
    [force] = audited(platform, "alert.add_force", aid)
    assert force.details == {"unit_id": unit} and force.source == "127.0.0.1"
    [left] = audited(platform, "alert.operator_leave", aid)
    assert left.details == {"legs": 1}


def test_a_position_request_is_audited_once(
    login: Login, carrier: TwilioClient, platform: Platform
) -> None:
    operator = login("operateur")
    aid = _alert(platform, carrier)
    post(operator, f"/api/console/alerts/{aid}/claim")
    assert post(operator, f"/api/console/alerts/{aid}/position").status_code == 200
    with platform.sessions() as s:
        request = s.scalars(select(PositionRequest)).one()
        entries = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action.in_(("position.requested", "alert.request_position"))
            )
        ).all()
    assert [(e.action, e.object_type, e.object_id) for e in entries] == [
        ("position.requested", "line", str(request.line_id))
    ]
    assert entries[0].source == "127.0.0.1"
    assert entries[0].details == {"alert_id": aid}


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("force", "n'a pas pu être appelé"),
        ("callback", "Le rappel n'a pas pu être passé"),
        ("position", "La demande de position n'a pas pu être envoyée"),
    ],
)
def test_carrier_failures_give_a_french_message_and_leave_no_orphan(
    login: Login,
    carrier: TwilioClient,
    platform: Platform,
    fake: FakeTwilio,
    action: str,
    message: str,
) -> None:
    operator = login("operateur")
    aid = _alert(platform, carrier)
    post(operator, f"/api/console/alerts/{aid}/claim")
    unit = operator.get(f"/api/console/alerts/{aid}").get_json()["proposal"]["unit_id"]
    before = len(fake.requests)
    fake.fail_next(500)
    answer = post(operator, f"/api/console/alerts/{aid}/{action}", {"unit_id": unit})
    assert answer.status_code == 502
    assert message in answer.get_json()["error"]
    assert "refusé l'appel (erreur HTTP 500" in answer.get_json()["error"]
    assert len(fake.requests) == before + 1  # one attempt, refused: no call at the carrier
    with platform.sessions() as s:
        rows = s.scalars(select(CallLeg).where(CallLeg.alert_id == aid)).all()
        assert all(leg.call_sid is not None or leg.status == "failed" for leg in rows)
        assert s.scalar(select(PositionRequest)) is None
        if action != "position":
            assert rows[-1].status == "failed" and rows[-1].failure == "refused:500:20500"
        alert = s.get(Alert, aid)
        assert alert is not None and alert.police_called_at is None


def test_a_refused_hand_over_keeps_the_operator_in_line(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    operator = login("operateur")
    aid = _alert(platform, carrier)
    post(operator, f"/api/console/alerts/{aid}/claim")
    fake.fail_next(503)
    refused = post(operator, f"/api/console/alerts/{aid}/leave")
    assert refused.status_code == 502
    assert "Vous n'avez pas pu quitter le pont" in refused.get_json()["error"]
    assert [leg["status"] for leg in legs(platform, aid) if leg["role"] == "operator"] == ["queued"]


def test_closing_takes_the_operator_out_of_the_bridge(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    operator = login("operateur")
    aid = _alert(platform, carrier)
    post(operator, f"/api/console/alerts/{aid}/claim")
    closed = post(
        operator,
        f"/api/console/alerts/{aid}/close",
        {"nature": "accidentel", "orientation": "aucune"},
    )
    assert closed.status_code == 200
    [operator_leg] = [leg for leg in legs(platform, aid) if leg["role"] == "operator"]
    assert operator_leg["status"] in ("left", "canceled")


def test_the_locked_console_serves_no_file_until_the_password(
    login: Login, carrier: TwilioClient, platform: Platform
) -> None:
    operator = login("operateur")
    aid = _alert(platform, carrier)
    assert post(operator, "/api/console/lock").status_code == 200
    locked = operator.get(f"/api/console/alerts/{aid}")
    assert locked.status_code == 423 and "verrouillée" in locked.get_json()["error"]
    assert post(operator, f"/api/console/alerts/{aid}/claim").status_code == 423
    board = operator.get("/api/console/board").get_json()
    assert board["locked"] and [a["id"] for a in board["alerts"]] == [aid]  # it still rings
    assert "Lefebvre" not in str(board)
    wrong = post(operator, "/api/console/unlock", {"password": "faux"})
    assert wrong.status_code == 403 and wrong.get_json()["error"] == "Mot de passe incorrect."
    right = post(operator, "/api/console/unlock", {"password": "Demo-Operateur-2026"})
    assert right.status_code == 200
    assert operator.get(f"/api/console/alerts/{aid}").status_code == 200


def test_too_many_wrong_unlock_passwords_end_the_session(login: Login, platform: Platform) -> None:
    operator = login("operateur")
    post(operator, "/api/console/lock")
    headers = csrf_headers(operator)
    for _ in range(5):
        last = operator.post("/api/console/unlock", json={"password": "x"}, headers=headers)
    assert "la session est fermée" in last.get_json()["error"]
    with platform.sessions() as s:
        [record] = s.scalars(select(UserSession).where(UserSession.user_id == 1)).all()
        assert record.ended_at is not None and record.end_reason == "password"
        user = s.get(User, 1)
        assert user is not None and user.locked_until is None  # the account itself stays open
    assert operator.get("/api/console/board").status_code == 302


def test_alerts_show_lists_the_legs_with_their_public_roles(
    login: Login, carrier: TwilioClient, platform: Platform, fake: FakeTwilio
) -> None:
    operator = login("operateur")
    aid = _alert(platform, carrier)
    post(operator, f"/api/console/alerts/{aid}/claim")
    deliver(fake, carrier)
    shown = legs(platform, aid)
    assert [(leg["role"], leg["status"]) for leg in shown] == [
        ("caller", "ringing"),
        ("operator", "in-progress"),
    ]
    with platform.sessions() as s:
        events = [e.kind for e in s.scalars(select(ConsoleEvent))]
        roles = {leg.role for leg in s.scalars(select(CallLeg))}
    assert LegRole.OPERATOR in roles and "alert_claimed" in events


def test_an_administrator_sets_an_operators_audio_line(login: Login, platform: Platform) -> None:
    from tests.integration.web.conftest import csrf_of

    admin = login("admin")
    page = admin.get("/admin/").get_data(as_text=True)
    with platform.sessions() as s:
        operator = s.scalars(select(User).where(User.username == "operateur")).one()
    url = f"/admin/utilisateurs/{operator.id}/ligne-audio"
    bad = admin.post(url, data={"csrf_token": csrf_of(page), "line": "n'importe quoi"})
    assert bad.status_code == 302
    good = admin.post(
        url, data={"csrf_token": csrf_of(page), "line": "01 99 00 10 07"}, follow_redirects=True
    )
    assert "01 99 00 10 07" in good.get_data(as_text=True)
    with platform.sessions() as s:
        assert s.get(User, operator.id).audio_line == "+33199001007"  # type: ignore[union-attr]
    assert login("operateur").post(url, data={"line": "x"}).status_code in (400, 403)


def test_an_action_a_service_audits_carries_the_clients_address(
    login: Login, carrier: TwilioClient, platform: Platform
) -> None:
    # The claim is audited by the handling service, which knows nothing of Flask: the
    # request's session carries the client's address to it (audit.SOURCE_KEY).
    operator = login("operateur")
    aid = _alert(platform, carrier)
    assert post(operator, f"/api/console/alerts/{aid}/claim").status_code == 200
    with platform.sessions() as s:
        sources = s.scalars(
            select(AuditEntry.source).where(
                AuditEntry.action == "alert.claim", AuditEntry.object_id == str(aid)
            )
        ).all()
    assert sources == ["127.0.0.1"]
