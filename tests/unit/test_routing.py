"""tgd.routing: the same answers as werkzeug's matcher, without a cycle per request."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, RequestRedirect, Rule, Submount

from tgd.routing import StaticRoutesFirst, StaticRoutesFirstMap


def _rules() -> list[Any]:
    return [
        Rule("/gateway/twilio/voice", endpoint="voice", methods=["POST"]),
        Rule("/gateway/twilio/voice/status", endpoint="voice_status", methods=["POST"]),
        Rule("/gateway/<kind>/voice", endpoint="kind_voice", methods=["GET", "POST"]),
        Rule("/alertes", endpoint="alerts"),
        Rule("/alertes/<int:alert_id>", endpoint="alert"),
        Rule("/alertes/nouvelle", endpoint="new_alert_form", methods=["GET"]),
        Rule("/alertes/nouvelle", endpoint="new_alert", methods=["POST"]),
        Rule("/dossiers/", endpoint="files"),
        Rule("/relaxed/", endpoint="relaxed", strict_slashes=False),
        Rule("/rapports", endpoint="reports", defaults={"page": 1}),
        Rule("/rapports/page/<int:page>", endpoint="reports"),
        Rule("/ancien", endpoint="old", alias=True, defaults={"v": "1"}),
        Rule("/ancien/<v>", endpoint="old"),
        Rule("/ws", endpoint="ws", websocket=True),
        Rule("/static/<path:filename>", endpoint="static"),
        Submount("/admin", [Rule("/utilisateurs", endpoint="users", methods=["GET", "POST"])]),
    ]


REQUESTS = [
    (path, method)
    for path in [
        "/gateway/twilio/voice",
        "/gateway/twilio/voice/status",
        "/gateway/sms/voice",
        "/gateway//twilio/voice",
        "/gateway/twilio/voice/",
        "/alertes",
        "/alertes/12",
        "/alertes/0",
        "/alertes/nouvelle",
        "/dossiers",
        "/dossiers/",
        "/relaxed",
        "/relaxed/",
        "/rapports",
        "/rapports/page/3",
        "/ancien",
        "/ancien/2",
        "/ws",
        "/static/app.js",
        "/admin/utilisateurs",
        "/",
        "/nulle-part",
    ]
    for method in ["GET", "HEAD", "POST", "PUT", "OPTIONS"]
]


def _outcome(url_map: Map, path: str, method: str) -> tuple[Any, ...]:
    adapter = url_map.bind("tgd.test", "/")
    try:
        endpoint, values = adapter.match(path, method=method)
    except RequestRedirect as redirect:
        return ("redirect", redirect.new_url)
    except HTTPException as error:
        return (error.code, sorted(getattr(error, "valid_methods", None) or []))
    return ("match", endpoint, values)


@pytest.mark.parametrize(("path", "method"), REQUESTS)
def test_every_answer_is_werkzeugs(path: str, method: str) -> None:
    assert _outcome(StaticRoutesFirstMap(_rules()), path, method) == _outcome(
        Map(_rules()), path, method
    )


def test_the_map_matches_with_the_static_walk_first() -> None:
    url_map = StaticRoutesFirstMap(_rules())
    assert isinstance(url_map._matcher, StaticRoutesFirst)
    assert _outcome(url_map, "/rapports", "GET") == ("match", "reports", {"page": 1})
    # Rules added after the map was built land in the same matcher.
    url_map.add(Rule("/plus-tard", endpoint="later"))
    assert _outcome(url_map, "/plus-tard", "GET") == ("match", "later", {})


def test_matching_a_static_route_leaves_no_reference_cycle() -> None:
    adapter = StaticRoutesFirstMap(_rules()).bind("tgd.test", "/")
    adapter.match("/gateway/twilio/voice", method="POST")
    gc.collect()
    gc.disable()
    try:
        for _ in range(100):
            assert adapter.match("/gateway/twilio/voice", method="POST") == ("voice", {})
        assert gc.collect() == 0
    finally:
        gc.enable()
