"""Live events over Socket.IO (E-02, E-09): authenticated sockets, pushes, catch-up on resume."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from dispatch_ui.realtime import SocketIOOnItsPath
from tests.integration.gateway.conftest import TwilioClient
from tgd.container import Platform
from tgd.db.models import User, UserSession
from tgd.db.models.operations import ConsoleEvent
from tgd.db.outbox_order import numbers_at_commit
from tgd.db.writes import write_transaction
from tgd.services import auth, events

Login = Callable[[str], FlaskClient]


def socket_for(app: Flask, client: FlaskClient | None = None) -> Any:
    hub = app.extensions["tgd_hub"]
    return hub.socketio.test_client(app, flask_test_client=client)


def received(socket: Any, name: str) -> list[Any]:
    """The events a socket received: live ones come in lists (one message per publish pass)."""
    messages = [m["args"][0] for m in socket.get_received() if m["name"] == name]
    if name == "console_events":
        return [event for batch in messages for event in batch]
    return messages


def test_anonymous_socket_is_refused(app: Flask, enrolled: None) -> None:
    socket = socket_for(app, app.test_client())
    assert not socket.is_connected()


def test_parquet_socket_is_refused(app: Flask, login: Login) -> None:
    assert not socket_for(app, login("parquet.paris")).is_connected()


def test_new_alert_is_pushed_to_connected_operators(
    app: Flask, login: Login, carrier: TwilioClient
) -> None:
    first, second = socket_for(app, login("operateur")), socket_for(app, login("superviseur"))
    assert first.is_connected() and second.is_connected()
    carrier.call("CArt0001")
    for socket in (first, second):
        kinds = [e["kind"] for e in received(socket, "console_events")]
        assert "alert_opened" in kinds


def test_pushed_events_hold_no_personal_data(
    app: Flask, login: Login, carrier: TwilioClient
) -> None:
    socket = socket_for(app, login("operateur"))
    carrier.call("CArt0002")
    text = repr(received(socket, "console_events"))
    assert "Lefebvre" not in text and "+336" not in text


def test_resume_sends_what_was_missed_in_order(
    app: Flask, login: Login, carrier: TwilioClient
) -> None:
    operator = login("operateur")
    socket = socket_for(app, operator)
    carrier.call("CArt0003")
    seen = received(socket, "console_events")
    last = seen[-1]["seq"]
    socket.disconnect()
    carrier.call("CArt0004")  # while the console is away
    carrier.call("CArt0005")
    socket = socket_for(app, operator)
    socket.emit("resume", {"after": last})
    caught = received(socket, "caught_up")[-1]
    seqs = [e["seq"] for e in caught["events"]]
    assert seqs == list(range(last + 1, caught["head"] + 1))
    assert [e["kind"] for e in caught["events"]].count("alert_opened") == 2


@pytest.mark.parametrize("after", [None, -5, "x", {"a": 1}])
def test_resume_with_a_bad_sequence_starts_from_zero(
    app: Flask, login: Login, carrier: TwilioClient, after: Any
) -> None:
    socket = socket_for(app, login("operateur"))
    carrier.call("CArt0006")
    socket.emit("resume", {"after": after})
    caught = received(socket, "caught_up")[-1]
    assert caught["events"][0]["seq"] == 1


def test_socket_is_dropped_when_the_session_has_ended(app: Flask, login: Login) -> None:
    operator = login("operateur")
    socket = socket_for(app, operator)
    assert socket.is_connected()
    page = operator.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    operator.post("/connexion/deconnexion", data={"csrf_token": token})
    socket.emit("resume", {"after": 0})  # E-09: checked on every event
    assert not socket.is_connected()


def _logout(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/connexion/deconnexion", data={"csrf_token": token})


def test_a_logged_out_socket_receives_no_further_event_and_is_closed(
    app: Flask, login: Login, carrier: TwilioClient
) -> None:
    operator = login("operateur")
    socket = socket_for(app, operator)
    carrier.call("CArtgate1")
    assert "alert_opened" in [e["kind"] for e in received(socket, "console_events")]
    _logout(operator)
    carrier.call("CArtgate2")  # published after the logout: not delivered (E-09)
    assert received(socket, "console_events") == []
    assert app.extensions["tgd_hub"].sweep() == 1
    assert not socket.is_connected()


def test_a_disabled_account_loses_its_socket(
    app: Flask, login: Login, carrier: TwilioClient, platform: Platform
) -> None:
    socket = socket_for(app, login("operateur"))
    with write_transaction(platform.sessions) as s:
        user = s.scalars(select(User).where(User.username == "operateur")).one()
        auth.disable_user(s, user, by=user, clock=platform.clock)
    carrier.call("CArtgate3")
    assert received(socket, "console_events") == []
    app.extensions["tgd_hub"].sweep()
    assert not socket.is_connected()


def test_a_logout_on_one_process_closes_the_socket_held_by_another(
    app: Flask, login: Login, platform: Platform, carrier: TwilioClient
) -> None:
    """Two app processes on one database: the logout is handled by A, the socket is on B."""
    from tgd.app import create_app

    other = create_app(platform.settings, platform=platform)  # process B
    operator = login("operateur")  # a client of process A
    cookie = operator.get_cookie("tgd_session")
    assert cookie is not None
    on_b = other.test_client()
    on_b.set_cookie("tgd_session", cookie.value)
    socket = socket_for(other, on_b)
    assert socket.is_connected()
    hub_b = other.extensions["tgd_hub"]
    assert hub_b.sweep() == 0  # a live session: nothing to close, and nothing written
    _logout(operator)  # handled by process A
    assert hub_b.sweep() == 1  # B's periodic check, with no event at all
    assert not socket.is_connected()


def test_operators_connected_are_counted_across_processes(
    app: Flask, login: Login, platform: Platform
) -> None:
    from tgd.app import create_app

    other = create_app(platform.settings, platform=platform)
    socket_for(app, login("operateur"))
    supervisor = login("superviseur")
    cookie = supervisor.get_cookie("tgd_session")
    assert cookie is not None
    on_b = other.test_client()
    on_b.set_cookie("tgd_session", cookie.value)
    socket_for(other, on_b)
    page = supervisor.get("/console/supervision").get_data(as_text=True)
    connected = page.split('id="connectes"', 1)[1].split("</ul>", 1)[0]
    assert "Opérateur démo" in connected and "Superviseure démo" in connected


def test_socket_events_write_nothing(app: Flask, login: Login, platform: Platform) -> None:
    socket = socket_for(app, login("operateur"))
    with platform.sessions() as s:
        before = s.execute(select(UserSession.last_seen_at)).all()
    for _ in range(3):
        socket.emit("resume", {"after": 0})
    app.extensions["tgd_hub"].sweep()
    with platform.sessions() as s:
        assert s.execute(select(UserSession.last_seen_at)).all() == before


def _notifications(app: Flask, platform: Platform, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, at each notification of the hub, whether committed events wait for it."""
    seen: list[bool] = []
    hub = app.extensions["tgd_hub"]
    before = _committed_events(platform)
    monkeypatch.setattr(hub, "notify", lambda: seen.append(_committed_events(platform) > before))
    return seen


def _committed_events(platform: Platform) -> int:
    """Count the console events another connection sees (committed)."""
    with platform.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ConsoleEvent)) or 0)


def test_the_hub_is_told_of_a_new_alert_once_its_commit_holds_it(
    app: Flask, platform: Platform, carrier: TwilioClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A webhook's receipt may be written in a savepoint: a notification at the savepoint,
    # before the commit, found nothing to publish and left the alert to the next poll.
    seen = _notifications(app, platform, monkeypatch)
    assert carrier.call("CArt0100").status_code == 200
    assert seen == [True]


def test_a_unit_rolled_back_beside_does_not_silence_the_events_committed(
    app: Flask, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _notifications(app, platform, monkeypatch)
    with write_transaction(platform.sessions) as session:
        with session.begin_nested():
            events.add_event(session, "test", {}, territory_id=None, clock=platform.clock)
        with contextlib.suppress(RuntimeError), session.begin_nested():
            events.add_event(session, "test", {}, territory_id=None, clock=platform.clock)
            session.flush()
            raise RuntimeError("this unit fails")
        assert seen == []  # nothing committed yet
    assert seen == [True]


@pytest.mark.parametrize("queue", [None, "redis://127.0.0.1:9/0"])
def test_the_publisher_checks_sessions_only_when_it_delivers_itself(
    app: Flask,
    platform: Platform,
    carrier: TwilioClient,
    monkeypatch: pytest.MonkeyPatch,
    queue: str | None,
) -> None:
    # Through Redis each process checks its own sockets' sessions as it delivers (E-09,
    # ``Hub.deliverable``: within the emit here, in the listener elsewhere), so a check
    # before the emit would be a query for nothing. Without a queue the publisher delivers, and
    # checks once for the whole pass; on SQLite every process's hub reads the events and
    # delivers them itself, queue or not.
    delivers_itself = queue is None or numbers_at_commit(platform.engine.dialect.name)
    checks_before_emit = 1 if delivers_itself else 0
    hub = app.extensions["tgd_hub"]
    checks: list[str] = []
    real_ended = hub.gate.ended
    monkeypatch.setattr(hub, "redis_url", queue)
    monkeypatch.setattr(hub.gate, "ended", lambda **kw: checks.append("check") or real_ended(**kw))
    monkeypatch.setattr(hub.socketio, "emit", lambda *args, **kw: checks.append("emit"))
    carrier.call("CArtqueue1")  # published at the end of the request (tests' hub)
    assert "emit" in checks
    assert checks.index("emit") == checks_before_emit


def _on_its_path(app: Flask) -> SocketIOOnItsPath:
    layer: Any = app.wsgi_app
    while not isinstance(layer, SocketIOOnItsPath):
        layer = layer.app  # the outer middleware, each around the next
    return layer


def test_only_socketio_requests_go_through_socketios_middleware(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under gunicorn Socket.IO's middleware makes a new class for each request it sees
    # (cyclic garbage): the app's other requests must not see it.
    door = _on_its_path(app)
    seen: dict[str, list[dict[str, Any]]] = {"socketio": [], "app": []}

    def spy(name: str, wrapped: Any) -> Any:
        def call(environ: dict[str, Any], start_response: Any) -> Any:
            seen[name].append(dict(environ))
            return wrapped(environ, start_response)

        return call

    monkeypatch.setattr(door, "socketio_app", spy("socketio", door.socketio_app))
    monkeypatch.setattr(door, "app", spy("app", door.app))
    client = app.test_client()
    gunicorn = {"gunicorn.socket": object()}
    client.get("/gateway/twilio/voice", environ_base=gunicorn)
    client.get("/connexion", environ_base=gunicorn)
    client.get("/socket.io/?EIO=4&transport=polling", environ_base=gunicorn)

    assert [e["PATH_INFO"] for e in seen["app"]] == ["/gateway/twilio/voice", "/connexion"]
    assert all("eventlet.input" not in environ for environ in seen["app"])
    assert [e["PATH_INFO"] for e in seen["socketio"]] == ["/socket.io/"]
