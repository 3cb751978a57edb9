"""Live events over Socket.IO (E-02, E-09): authenticated sockets, pushes, catch-up on resume."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.gateway.conftest import TwilioClient

Login = Callable[[str], FlaskClient]


def socket_for(app: Flask, client: FlaskClient | None = None) -> Any:
    hub = app.extensions["tgd_hub"]
    return hub.socketio.test_client(app, flask_test_client=client)


def received(socket: Any, name: str) -> list[Any]:
    return [m["args"][0] for m in socket.get_received() if m["name"] == name]


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
        kinds = [e["kind"] for e in received(socket, "console_event")]
        assert "alert_opened" in kinds


def test_pushed_events_hold_no_personal_data(
    app: Flask, login: Login, carrier: TwilioClient
) -> None:
    socket = socket_for(app, login("operateur"))
    carrier.call("CArt0002")
    text = repr(received(socket, "console_event"))
    assert "Lefebvre" not in text and "+336" not in text


def test_resume_sends_what_was_missed_in_order(
    app: Flask, login: Login, carrier: TwilioClient
) -> None:
    operator = login("operateur")
    socket = socket_for(app, operator)
    carrier.call("CArt0003")
    seen = received(socket, "console_event")
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
