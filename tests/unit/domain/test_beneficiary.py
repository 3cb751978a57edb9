"""The personal content of a file: validation, phone normalisation, changed fields (R-12)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tgd.domain.beneficiary import Address, PersonalData, normalise_phone, validated
from tgd.domain.errors import ValidationError


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+262 692 34 00 01", "+262692340001"),
        ("+508 55 10 01", "+508551001"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["abc", "12", "+33 1"])
def test_unreadable_phone_number_is_refused_in_french(raw: str) -> None:
    with pytest.raises(ValidationError, match="numéro de téléphone"):
        normalise_phone(raw)


def test_name_is_required() -> None:
    with pytest.raises(ValidationError, match="nom et le prénom"):
        validated(PersonalData(last_name=" ", first_name="A"))


def test_birth_date_in_the_future_is_refused() -> None:
    with pytest.raises(ValidationError, match="futur"):
        validated(PersonalData(last_name="A", first_name="B", birth_date=date(2999, 1, 1)))


def test_round_trip_through_a_dict() -> None:
    data = PersonalData(
        last_name="A",
        first_name="B",
        birth_date=date(1990, 1, 2),
        residence=Address("1 rue X", "75001", "Paris", 48.0, 2.0),
        other_phones=("+33612345678",),
    )
    assert PersonalData.from_dict(data.to_dict()) == data


def test_changed_fields_name_only_what_changed() -> None:
    before = PersonalData(last_name="A", first_name="B")
    after = replace(before, residence=Address("2 rue Y", "75002", "Paris"), notes="n")
    assert after.changed_fields(before) == ["residence", "notes"]
