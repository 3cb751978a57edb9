"""Annexe 2 I.1: what a restricted line may reach."""

from __future__ import annotations

import pytest

from tgd.domain.errors import ValidationError
from tgd.domain.restrictions import (
    MAX_NUMBERS,
    AllowList,
    Channel,
    Decision,
    decide,
    normalise_allowed,
    parse_numbers,
)

FRIEND, LAWYER, STRANGER = "+33611223344", "+33145678900", "+33699887766"
ALLOW = AllowList(voice=frozenset({FRIEND, LAWYER}), sms=frozenset({FRIEND}))


def test_line_without_a_list_may_reach_anyone() -> None:
    assert decide(None, STRANGER, Channel.VOICE) is Decision.UNRESTRICTED


def test_number_on_the_list_is_allowed_for_its_channel_only() -> None:
    assert decide(ALLOW, LAWYER, Channel.VOICE) is Decision.LISTED
    assert decide(ALLOW, LAWYER, Channel.SMS) is Decision.REFUSED
    assert decide(ALLOW, FRIEND, Channel.SMS) is Decision.LISTED


def test_number_outside_the_list_is_refused() -> None:
    assert decide(ALLOW, STRANGER, Channel.VOICE) is Decision.REFUSED
    assert not Decision.REFUSED.is_allowed
    assert decide(AllowList(), STRANGER, Channel.SMS) is Decision.REFUSED


@pytest.mark.parametrize("number", ["17", "112", "+112", "3919", "116006"])
def test_emergency_numbers_are_never_refused(number: str) -> None:
    assert decide(AllowList(), number, Channel.VOICE) is Decision.EMERGENCY


def test_centre_numbers_are_never_refused() -> None:
    centre = {"+33199000000"}
    assert decide(AllowList(), "+33199000000", Channel.SMS, centre_numbers=centre).is_allowed


def test_numbers_are_normalised_to_e164() -> None:
    assert normalise_allowed("06 11 22 33 44") == FRIEND
    assert normalise_allowed("+33 (0)1 45 67 89 00".replace("(0)", "")) == LAWYER
    assert parse_numbers(["0611223344", "+33611223344", " "], Channel.VOICE) == {FRIEND}


@pytest.mark.parametrize("raw", ["maman", "0611", "+33 6 11 22 33 44 55 66"])
def test_unreadable_or_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        normalise_allowed(raw)


def test_a_list_is_short() -> None:
    numbers = [f"06{i:08d}" for i in range(MAX_NUMBERS + 1)]
    with pytest.raises(ValidationError):
        parse_numbers(numbers, Channel.SMS)


def test_list_round_trips_through_its_json_form() -> None:
    assert AllowList.from_json(ALLOW.as_json()) == ALLOW
