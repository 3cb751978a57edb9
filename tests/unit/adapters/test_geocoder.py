"""The BAN adapter against a local server speaking the BAN API, and the offline fake."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.unit.domain.test_geocoding import BAN_ANSWER
from tgd.adapters.geocoder import BanGeocoder, FakeGeocoder, normalise
from tgd.domain.geocoding import MatchKind
from tgd.ports import GeocoderUnavailable


class Ban(BaseHTTPRequestHandler):
    """Answers /search/ like api-adresse.data.gouv.fr: the known address, else nothing."""

    queries: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query).get("q", [""])[0]
        Ban.queries.append(query)
        answer = (
            BAN_ANSWER
            if url.path.rstrip("/") == "/search" and "tilleuls" in query.lower()
            else {"type": "FeatureCollection", "features": []}
        )
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def ban() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Ban)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_ban_geocoder_reads_the_type_score_and_label_of_the_real_api(ban: str) -> None:
    geocoder = BanGeocoder(domain=ban, timeout=3, scheme="http")
    match = geocoder.geocode("12 rue des Tilleuls, 75011 Paris")
    assert match is not None and match.kind is MatchKind.HOUSENUMBER
    assert (match.lat, match.lon, match.score) == (48.858902, 2.380046, 0.9712)
    assert geocoder.geocode("nulle part") is None
    assert Ban.queries[-2] == "12 rue des Tilleuls, 75011 Paris"


def test_an_unreachable_ban_is_unavailable_not_unknown() -> None:
    geocoder = BanGeocoder(domain="127.0.0.1:9", timeout=1, scheme="http")
    with pytest.raises(GeocoderUnavailable):
        geocoder.geocode("12 rue des Tilleuls, 75011 Paris")


def test_fake_answers_in_the_bans_wire_format() -> None:
    fake = FakeGeocoder({"12 rue des Lilas, 75011 Paris": (48.86, 2.38)})
    answer = fake.search("12 RUE DES LILAS 75011 paris")
    feature = answer["features"][0]
    assert feature["geometry"]["coordinates"] == [2.38, 48.86]
    assert feature["properties"]["type"] == "housenumber" and feature["properties"]["score"] > 0.9
    match = fake.geocode("12 Rue des Lilas, 75011 Paris")
    assert match is not None and (match.lat, match.lon) == (48.86, 2.38)


def test_fake_places_an_unknown_address_at_its_communes_centre_only() -> None:
    match = FakeGeocoder({}).geocode("5 rue des Canaris, 75011 Paris")
    assert match is not None and match.kind is MatchKind.MUNICIPALITY
    assert match.score is not None and match.score < 0.5
    assert FakeGeocoder({}).geocode("quelque part sans code postal") is None


def test_normalise_folds_case_accents_and_spaces() -> None:
    assert normalise("  12, Rue  des Lilas   Évry ") == "12 rue des lilas evry"
