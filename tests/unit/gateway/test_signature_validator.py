"""Twilio's signatures (R-54): the gateway's validator answers as the library's, trying once."""

from __future__ import annotations

from typing import Any

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from handset_gateway.security import FirstMatchValidator

TOKEN = "s3cret-auth-token"
URL = "https://tgd.example.fr/gateway/twilio/voice/status?leg=12"
WITH_PORT = "https://tgd.example.fr:443/gateway/twilio/voice/status?leg=12"
PARAMS = MultiDict([("CallSid", "CA" + "1" * 32), ("CallStatus", "ringing"), ("To", "+33")])


class _Counting(FirstMatchValidator):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.computed = 0

    def compute_signature(self, *args: Any, **kwargs: Any) -> str:
        self.computed += 1
        return str(super().compute_signature(*args, **kwargs))


def _signed(url: str, params: Any = PARAMS, token: str = TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


@pytest.mark.parametrize(
    ("signed_url", "params", "token"),
    [
        (URL, PARAMS, TOKEN),  # Twilio signed the URL as configured
        (WITH_PORT, PARAMS, TOKEN),  # or with its port spelt out
        (URL, MultiDict([("CallSid", "CA" + "2" * 32)]), TOKEN),  # other parameters
        (URL, PARAMS, "another-token"),  # another account's secret
        ("https://evil.example/gateway/twilio/voice/status?leg=12", PARAMS, TOKEN),
    ],
)
def test_it_answers_as_the_library_does(signed_url: str, params: Any, token: str) -> None:
    signature = _signed(signed_url, params, token)
    expected = RequestValidator(TOKEN).validate(URL, PARAMS, signature)
    assert FirstMatchValidator(TOKEN).validate(URL, PARAMS, signature) is expected


def test_a_good_signature_costs_one_hmac_and_a_bad_one_is_tried_both_ways() -> None:
    good = _Counting(TOKEN)
    assert good.validate(URL, PARAMS, _signed(URL)) is True
    assert good.computed == 1  # the library computes both forms of the URL every time

    with_port = _Counting(TOKEN)
    assert with_port.validate(URL, PARAMS, _signed(WITH_PORT)) is True
    assert with_port.computed == 3  # the shortcut's try, then the library's two

    bad = _Counting(TOKEN)
    assert bad.validate(URL, PARAMS, "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==") is False
    assert bad.computed == 3  # refused only after the library's own two tries


def test_an_unknown_algorithm_is_refused_as_by_the_library() -> None:
    signature = _signed(URL)
    assert FirstMatchValidator(TOKEN).validate(URL, PARAMS, signature, "HMAC_MD5") is False
