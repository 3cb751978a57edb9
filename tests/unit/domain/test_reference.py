"""Tests of the terminal reference value type (DESIGN.md §3, R-02, R-03)."""

from __future__ import annotations

import dataclasses

import pytest

from tgd.domain.errors import ValidationError
from tgd.domain.reference import Reference, ReferenceError

# One valid reference per kind of département, with its canonical form.
CANONICAL = [
    ("M 01 01001 01 1", Reference("01", "01001", 1, 1)),
    ("M 75 75056 01 1", Reference("75", "75056", 1, 1)),  # Paris
    ("M 69 69123 12 3", Reference("69", "69123", 12, 3)),  # Lyon
    ("M 13 13055 99 999", Reference("13", "13055", 99, 999)),  # Marseille
    ("M 2A 2A004 01 1", Reference("2A", "2A004", 1, 1)),  # Ajaccio
    ("M 2B 2B033 02 1", Reference("2B", "2B033", 2, 1)),  # Bastia
    ("M 971 97120 01 1", Reference("971", "97120", 1, 1)),  # Pointe-à-Pitre
    ("M 972 97209 01 1", Reference("972", "97209", 1, 1)),  # Fort-de-France
    ("M 973 97302 01 1", Reference("973", "97302", 1, 1)),  # Cayenne
    ("M 974 97411 03 2", Reference("974", "97411", 3, 2)),  # Saint-Denis (Réunion)
    ("M 975 97502 01 1", Reference("975", "97502", 1, 1)),  # Saint-Pierre
    ("M 976 97611 01 1", Reference("976", "97611", 1, 1)),  # Mamoudzou (Mayotte)
    ("M 977 97701 01 1", Reference("977", "97701", 1, 1)),  # Saint-Barthélemy
    ("M 978 97801 01 1", Reference("978", "97801", 1, 1)),  # Saint-Martin
    ("M 986 98613 01 1", Reference("986", "98613", 1, 1)),  # Uvea (Wallis)
    ("M 987 98735 01 1", Reference("987", "98735", 1, 1)),  # Papeete
    ("M 988 98818 01 1", Reference("988", "98818", 1, 1)),  # Nouméa
]


@pytest.mark.parametrize(("text", "reference"), CANONICAL)
def test_canonical_form_round_trips(text: str, reference: Reference) -> None:
    # canonical text form, single spaces.
    assert Reference.parse(text) == reference
    assert str(reference) == text


@pytest.mark.parametrize(("text", "reference"), CANONICAL)
def test_hyphenated_form_is_accepted(text: str, reference: Reference) -> None:
    # M-975-97502-01-1.
    assert Reference.parse(text.replace(" ", "-")) == reference


@pytest.mark.parametrize(("text", "reference"), CANONICAL)
def test_form_without_separators_is_accepted(text: str, reference: Reference) -> None:
    # no separators; the département width follows from its first characters.
    assert Reference.parse(text.replace(" ", "")) == reference


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("  M 975 97502 01 1  ", "M 975 97502 01 1"),
        ("M   975  97502    01 1", "M 975 97502 01 1"),
        ("M\t975 97502 01\u00a01", "M 975 97502 01 1"),
        ("m 975 97502 01 1", "M 975 97502 01 1"),
        ("m 2a 2a004 01 1", "M 2A 2A004 01 1"),
        ("m-2a-2a004-01-1", "M 2A 2A004 01 1"),
        ("m2a2a004011", "M 2A 2A004 01 1"),
        ("M97597502011", "M 975 97502 01 1"),
        ("M988988181212", "M 988 98818 12 12"),
        ("M7575056011", "M 75 75056 01 1"),
        ("M757505601123", "M 75 75056 01 123"),
    ],
)
def test_lenient_spellings_normalise_to_canonical(text: str, canonical: str) -> None:
    # extra spaces trimmed, lowercase accepted, hyphens or no separators.
    assert str(Reference.parse(text)) == canonical


def test_order_is_zero_padded_and_assignment_is_not() -> None:
    # XX always two digits, Y without padding.
    assert str(Reference("75", "75056", 7, 12)) == "M 75 75056 07 12"


@pytest.mark.parametrize(
    ("text", "part"),
    [
        # Prefix: only M (mobile terminal).
        ("X 75 75056 01 1", "prefixe"),
        ("F 75 75056 01 1", "prefixe"),
        ("MM 75 75056 01 1", "prefixe"),
        ("T7575056011", "prefixe"),
        # Département: 20 no longer exists, unknown codes refused.
        ("M 20 20004 01 1", "departement"),
        ("M2020004011", "departement"),
        ("M 99 99001 01 1", "departement"),
        ("M 00 00001 01 1", "departement"),
        ("M 96 96001 01 1", "departement"),
        ("M 984 98411 01 1", "departement"),
        ("M 989 98901 01 1", "departement"),
        ("M 2C 2C004 01 1", "departement"),
        ("M 7 07001 01 1", "departement"),
        ("M 075 75056 01 1", "departement"),
        # Commune: malformed, unknown, or of another département.
        ("M 75 13055 01 1", "commune"),
        ("M 2A 2B033 01 1", "commune"),
        ("M 974 97502 01 1", "commune"),
        ("M 75 75999 01 1", "commune"),
        ("M 75 75101 01 1", "commune"),  # arrondissement municipal, not a commune
        ("M 2A 20004 01 1", "commune"),
        ("M 75 7505 01 1", "commune"),
        ("M 75 750566 01 1", "commune"),
        ("M 75 7505X 01 1", "commune"),
        ("M75", "commune"),
        # Order XX: two digits, 01..99.
        ("M 75 75056 00 1", "ordre"),
        ("M 75 75056 1 1", "ordre"),
        ("M 75 75056 001 1", "ordre"),
        ("M 75 75056 AB 1", "ordre"),
        ("M7575056", "ordre"),
        # Assignment Y: integer 1..999, no padding.
        ("M 75 75056 01 0", "affectation"),
        ("M 75 75056 01 000", "affectation"),
        ("M 75 75056 01 01", "affectation"),
        ("M 75 75056 01 1000", "affectation"),
        ("M 75 75056 01 -1", "affectation"),
        ("M 75 75056 01 X", "affectation"),
        ("M757505601", "affectation"),
        ("M7575056010", "affectation"),
        ("M7575056011000", "affectation"),
        # Overall shape.
        ("", "format"),
        ("   ", "format"),
        ("bonjour", "format"),
        ("n'importe quoi", "format"),
        ("M", "format"),
        ("M 75 75056 01", "format"),
        ("M 75 75056 01 1 2", "format"),
        ("M9759750201 1", "format"),
        ("M 97597502011", "format"),
        ("M--975-97502-01-1", "format"),
        ("M-975-97502-01-1-", "format"),
        ("-M-975-97502-01-1", "format"),
        ("M - 975 - 97502 - 01 - 1", "format"),
        ("M-975 97502-01 1", "format"),
        ("M_975_97502_01_1", "format"),
        ("M 975 97502 01 1" * 10, "format"),
    ],
)
def test_invalid_reference_names_the_wrong_part(text: str, part: str) -> None:
    # anything else is rejected with a message that says which part is wrong.
    with pytest.raises(ReferenceError) as caught:
        Reference.parse(text)
    assert caught.value.part == part
    assert caught.value.message.startswith("Référence ")
    assert Reference.try_parse(text) is None


def test_reference_error_is_a_validation_error_with_template_and_params() -> None:
    with pytest.raises(ValidationError) as caught:
        Reference.parse("M 75 13055 01 1")
    error = caught.value
    assert isinstance(error, ReferenceError)
    assert error.http_status == 400
    assert error.params == {"code": "13055", "name": "Marseille", "departement": "75"}
    assert error.template % error.params == error.message
    assert str(error) == error.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("X 75 75056 01 1", "le préfixe doit être M"),
        ("M 20 20004 01 1", "utilisez 2A (Corse-du-Sud) ou 2B (Haute-Corse)"),
        ("M 99 99001 01 1", "le département « 99 » est inconnu"),
        ("M 75 13055 01 1", "la commune 13055 (Marseille) n'appartient pas au département 75"),
        ("M 75 75999 01 1", "la commune 75999 n'existe pas"),
        ("M 75 75056 00 1", "le numéro d'ordre doit aller de 01 à 99, pas 00"),
        ("M 75 75056 01 0", "l'indice d'affectation commence à 1, pas 0"),
        ("bonjour", "« bonjour » n'a pas la forme M <département>"),
    ],
)
def test_messages_are_precise_french(text: str, fragment: str) -> None:
    with pytest.raises(ReferenceError) as caught:
        Reference.parse(text)
    assert fragment in caught.value.message


def test_first_wrong_part_in_reading_order_is_reported() -> None:
    with pytest.raises(ReferenceError) as caught:
        Reference.parse("X 20 13055 00 0")
    assert caught.value.part == "prefixe"
    with pytest.raises(ReferenceError) as caught:
        Reference.parse("M 20 13055 00 0")
    assert caught.value.part == "departement"


@pytest.mark.parametrize(
    ("fields", "part"),
    [
        (("20", "2A004", 1, 1), "departement"),
        (("2a", "2A004", 1, 1), "departement"),
        (("75", "13055", 1, 1), "commune"),
        (("75", "75056", 0, 1), "ordre"),
        (("75", "75056", 100, 1), "ordre"),
        (("75", "75056", 1, 0), "affectation"),
        (("75", "75056", 1, 1000), "affectation"),
    ],
)
def test_constructor_validates_like_parse(fields: tuple[str, str, int, int], part: str) -> None:
    with pytest.raises(ReferenceError) as caught:
        Reference(*fields)
    assert caught.value.part == part


@pytest.mark.parametrize(("text", "reference"), CANONICAL)
def test_try_parse_returns_the_reference_when_valid(text: str, reference: Reference) -> None:
    assert Reference.try_parse(text) == reference


def test_reassignment_increments_y() -> None:
    # each new assignment of the terminal increments Y, same line.
    first = Reference.parse("M 975 97502 01 1")
    second = first.next_assignment()
    assert str(second) == "M 975 97502 01 2"
    assert str(second.next_assignment()) == "M 975 97502 01 3"
    assert (second.departement, second.insee, second.order) == ("975", "97502", 1)
    assert str(first) == "M 975 97502 01 1"  # the value itself is unchanged


def test_reassignment_beyond_999_is_refused() -> None:
    # R-02 with the at-most-3-digits bound on Y.
    with pytest.raises(ReferenceError) as caught:
        Reference("75", "75056", 1, 999).next_assignment()
    assert caught.value.part == "affectation"


def test_reference_is_immutable_and_hashable() -> None:
    reference = Reference("2A", "2A004", 1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reference.assignment = 2  # type: ignore[misc]
    assert len({reference, Reference.parse("M-2A-2A004-01-1")}) == 1
