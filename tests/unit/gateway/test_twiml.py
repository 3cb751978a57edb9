"""TwiML of the bridge and of the fallback: opaque, silent, built by the library (R-24b, E-05)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import phonenumbers
import pytest

from handset_gateway import fallback, twiml
from tgd.services.alerts import CallRoute, new_conference_name, normalise_number
from tgd.services.dispatch import Callbacks

CALLBACKS = Callbacks(
    "https://tgd.example/gateway/twilio/voice/status",
    "https://tgd.example/gateway/twilio/conference/status",
)


def _conference(xml: str) -> ET.Element:
    found = ET.fromstring(xml).find("./Dial/Conference")  # noqa: S314 - our own TwiML
    assert found is not None
    return found


def test_caller_leg_starts_and_ends_the_bridge_silently() -> None:
    conference = _conference(twiml.render(CallRoute(conference="tgd-abc"), CALLBACKS))
    assert conference.text == "tgd-abc"
    assert conference.attrib["startConferenceOnEnter"] == "true"
    assert conference.attrib["endConferenceOnExit"] == "true"
    assert conference.attrib["beep"] == "false" and conference.attrib["waitUrl"] == ""
    assert conference.attrib["statusCallback"] == CALLBACKS.conference_status


def test_other_legs_never_end_the_bridge() -> None:
    route = CallRoute(conference="tgd-abc", end_conference_on_exit=False)
    assert _conference(twiml.render(route, CALLBACKS)).attrib["endConferenceOnExit"] == "false"


@pytest.mark.parametrize("end_conference_on_exit", [True, False])
@pytest.mark.parametrize(
    "name", ["tgd-0123456789abcdef01234567", "a&b<c>d\"e'f", "pont-l'évêque ]]> &amp;"]
)
def test_a_bridge_is_the_librarys_answer_with_its_name(
    name: str, end_conference_on_exit: bool
) -> None:
    # Built once per shape around a mark, then the name put in: the same bytes as the
    # library builds for that name, the name escaped as ElementTree escapes it.
    route = CallRoute(conference=name, end_conference_on_exit=end_conference_on_exit)
    rendered = twiml.render(route, CALLBACKS)
    assert rendered == twiml._bridge(name, end_conference_on_exit, CALLBACKS)
    assert _conference(rendered).text == name


def test_conference_names_are_opaque_and_unique() -> None:
    names = {new_conference_name() for _ in range(1000)}
    assert len(names) == 1000
    assert all(re.fullmatch(r"tgd-[0-9a-f]{24}", n) for n in names)
    # Random hex, not a counter: one name in about 80,000 is all digits by chance, so
    # the test asks it of the whole set (asked of each name, it failed one run in 80).
    assert not all(n[4:].isdigit() for n in names)


def test_fallback_dials_the_number_or_bridges() -> None:
    assert "<Number>+33140009999</Number>" in twiml.fallback("+33140009999", "tgd-x", CALLBACKS)
    assert _conference(twiml.fallback(None, "tgd-x", CALLBACKS)).text == "tgd-x"


def test_static_fallback_file_is_silent_twiml_that_dials() -> None:
    root = ET.parse(fallback.STATIC_FILE).getroot()  # noqa: S314 - our own file
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Dial"]
    number = root.find("./Dial/Number")
    assert number is not None and normalise_number(number.text) == number.text
    assert fallback.build("01 99 00 00 99") == twiml.fallback("+33199000099", "unused", CALLBACKS)


def test_fallback_builder_refuses_a_bad_number() -> None:
    with pytest.raises(ValueError, match="not a valid"):
        fallback.build("hello")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+33612340001", "+33612340001"),
        ("06 12 34 00 01", "+33612340001"),
        ("anonymous", None),
        ("+266696687", None),
        ("", None),
        (None, None),
        ("client:alice", None),
        ("12", None),
    ],
)
def test_caller_numbers_are_normalised_or_unidentified(
    raw: str | None, expected: str | None
) -> None:
    assert normalise_number(raw) == expected


def test_a_french_number_in_e164_is_what_the_library_would_return() -> None:
    # The fast path (alerts._FRENCH_E164) against phonenumbers itself: every leading digit,
    # every length around the right one, with and without the trunk prefix.
    samples = [
        f"+33{first}{rest}"
        for first in "0123456789"
        for rest in ("1234567", "12345678", "123456789", "00000000", "99999999")
    ]
    samples += [" +33612340001 ", "+33612340001\n", "+33６12340001", "+3361234000a"]
    for raw in samples:
        text = raw.strip()
        try:
            number = phonenumbers.parse(text, "FR")
        except phonenumbers.NumberParseException:
            expected = None
        else:
            possible = phonenumbers.is_possible_number(number)
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            expected = e164 if possible else None
        assert normalise_number(raw) == expected, raw


def test_a_french_number_in_e164_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(phonenumbers, "parse", refuse)
    assert normalise_number("+33612340001") == "+33612340001"
    with pytest.raises(AssertionError, match="parsed"):
        normalise_number("06 12 34 00 01")  # any other form goes through the library
