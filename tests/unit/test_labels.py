"""Words, not codes (issue 13): one label catalogue, phone numbers for reading, the CSP's tiles."""

from __future__ import annotations

import dataclasses

import pytest

from tgd.domain import labels
from tgd.domain.alerts import AlertNature, AlertState, Orientation
from tgd.settings import load_settings


def test_every_code_people_read_has_a_label() -> None:
    assert set(labels.NATURES) == set(AlertNature)
    assert set(labels.ORIENTATIONS) == set(Orientation)
    assert set(labels.STATES) == set(AlertState)
    assert labels.nature_label("danger_reel") == "danger réel"
    assert labels.orientation_label(None) == "non renseignée"
    assert labels.leg_status_label("in-progress") == "en ligne"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (
            "refused:500:20500",
            "l'opérateur téléphonique a refusé l'appel (erreur HTTP 500, code 20500)",
        ),
        ("unreachable", "l'opérateur téléphonique est injoignable"),
        ("no-answer", "personne n'a décroché"),
        ("busy", "la ligne est occupée"),
    ],
)
def test_carrier_failures_read_in_french(code: str, text: str) -> None:
    found = labels.failure_label(code)
    assert found is not None
    template, params = found
    assert template % params == text


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("+33612340001", "06 12 34 00 01"),
        ("+262692340001", "0692 34 00 01"),
        ("+447700900123", "+44 7700 900123"),
        ("sip:poste12@centre.example", "sip:poste12@centre.example"),
        ("", ""),
    ],
)
def test_phone_numbers_are_formatted_for_reading(number: str, shown: str) -> None:
    from dispatch_ui.formatting import format_phone

    assert format_phone(number) == shown


def test_the_csp_allows_the_configured_tile_server_only() -> None:
    from tgd.app import content_security_policy

    settings = load_settings(environ={"TGD_SECRET_KEY": "x" * 32})
    assert "img-src 'self' data:;" in content_security_policy(settings)
    tiles = dataclasses.replace(
        settings, map=dataclasses.replace(settings.map, tile_url="https://data.geopf.fr/wmts?x={x}")
    )
    assert "img-src 'self' data: https://data.geopf.fr;" in content_security_policy(tiles)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("01 99 00 10 01", "+33199001001"),
        ("+33 6 12 34 00 09", "+33612340009"),
        ("sip:poste12@centre.example", "sip:poste12@centre.example"),
        ("SIP:poste12@centre.example:5061", "sip:poste12@centre.example:5061"),
    ],
)
def test_audio_lines_are_kept_in_canonical_form(given: str, kept: str) -> None:
    from tgd.services.operators import normalise_audio_line

    assert normalise_audio_line(given) == kept


@pytest.mark.parametrize("given", ["12", "pas un numéro", "sip:sans-domaine", "sip:a b@c.d"])
def test_audio_lines_that_cannot_be_dialled_are_refused(given: str) -> None:
    from tgd.domain.errors import ValidationError
    from tgd.services.operators import normalise_audio_line

    with pytest.raises(ValidationError):
        normalise_audio_line(given)
