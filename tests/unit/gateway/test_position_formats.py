"""R-28b: the AML SMS and the simple format, parsed and validated without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tgd.domain.alerts import PositionSource
from tgd.domain.positions import (
    Fix,
    PositionError,
    fix_from_json,
    format_aml,
    parse_sms,
    sign_terminal_body,
)

NOW = datetime(2022, 1, 31, 17, 20, tzinfo=UTC)
TOLERANCE = timedelta(minutes=5)
DESIGN_SAMPLE = (
    'A"ML=1;lt=+51.53321;lg=-0.12601;rd=14;top=20220131171748;lc=68;pm=W;'
    "si=234302543446355;ei=356728110479584;mcc=234;mnc=15;ml=126"
)


def test_the_aml_sample_of_the_design_is_read() -> None:
    fix = parse_sms(DESIGN_SAMPLE, now=NOW, tolerance=TOLERANCE)
    assert fix == Fix(
        51.53321,
        -0.12601,
        14,
        datetime(2022, 1, 31, 17, 17, 48, tzinfo=UTC),
        PositionSource.WIFI,
        68,
    )


def test_aml_round_trip() -> None:
    fix = Fix(-20.883, 55.452, 30, NOW - timedelta(minutes=1), PositionSource.CELL, 90)
    assert parse_sms(format_aml(fix), now=NOW, tolerance=TOLERANCE) == fix


def test_simple_format_defaults_to_gnss() -> None:
    fix = parse_sms("POS 46.77900 -56.17700 10 20220131171500", now=NOW, tolerance=TOLERANCE)
    assert fix.source == PositionSource.GNSS and fix.lon == -56.177 and fix.confidence_pct is None


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ("", "unknown_format", "Body"),
        (DESIGN_SAMPLE.replace("lt=+51.53321", "lt=abc"), "invalid_value", "lt"),
        (DESIGN_SAMPLE.replace("lt=+51.53321", "lt=-90.5"), "out_of_range", "lat"),
        (DESIGN_SAMPLE.replace("lc=68", "lc=101"), "out_of_range", "confidence"),
        (DESIGN_SAMPLE.replace("rd=14", "rd=100001"), "out_of_range", "accuracy"),
        (DESIGN_SAMPLE.replace("top=20220131171748", "top=20220131172600"), "in_future", "time"),
        (DESIGN_SAMPLE.replace("pm=W", "pm=X"), "invalid_value", "pm"),
        ("POS 1 2 3 20220131171500 Z", "invalid_value", "method"),
        ("POS 1 2 x 20220131171500", "invalid_value", "accuracy"),
        ("POS nan 2 3 20220131171500", "invalid_value", "lat"),
    ],
)
def test_bad_messages_are_refused_with_a_code_and_a_field(text: str, code: str, field: str) -> None:
    with pytest.raises(PositionError) as caught:
        parse_sms(text, now=NOW, tolerance=TOLERANCE)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert 400 <= caught.value.http_status < 500


def test_json_infinity_and_booleans_are_refused() -> None:
    for lat in (float("inf"), True):
        with pytest.raises(PositionError):
            fix_from_json(
                {"lat": lat, "lon": 0, "captured_at": "2022-01-31T17:00:00Z"},
                now=NOW,
                tolerance=TOLERANCE,
            )


def test_signature_binds_timestamp_nonce_and_body() -> None:
    base = sign_terminal_body("secret", "1", "nonce", b"{}")
    assert base != sign_terminal_body("secret", "2", "nonce", b"{}")
    assert base != sign_terminal_body("secret", "1", "other", b"{}")
    assert base != sign_terminal_body("secret", "1", "nonce", b"{ }")
    assert base != sign_terminal_body("other", "1", "nonce", b"{}")
