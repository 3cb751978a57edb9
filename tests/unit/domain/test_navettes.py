"""The four navettes: validation field by field, processing states, clocks (R-10..R-15)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from tgd.domain.beneficiary import Address, PersonalData
from tgd.domain.errors import Conflict
from tgd.domain.lifecycle import CommissioningStep, NavetteKind, NavetteState
from tgd.domain.navettes import (
    NAVETTE_TRANSITIONS,
    Attribution,
    FieldErrors,
    TemporaryInformation,
    Termination,
    Update,
    check_commissioning_complete,
    check_navette_transition,
    content_from_dict,
    deadline_for,
    is_breach,
    kind_of,
    missing_steps,
    seconds_left,
)

TODAY = date(2026, 11, 23)
PERSON = PersonalData("Martin", "Léa", residence=Address("5 rue", "75011", "Paris"))


def test_attribution_normalises_reference_and_phones() -> None:
    a = Attribution(
        "m-75-75056-05-1",
        PersonalData(
            " Martin ", "Léa", residence=PERSON.residence, other_phones=("06 98 76 00 99",)
        ),
    ).validated(today=TODAY)
    assert a.reference == "M 75 75056 05 1"
    assert a.personal.last_name == "Martin" and a.personal.other_phones == ("+33698760099",)


def test_attribution_reports_every_wrong_field() -> None:
    with pytest.raises(FieldErrors) as err:
        Attribution(
            "M 20 75056 05 1",
            PersonalData("", "", birth_date=date(2030, 1, 1), other_phones=("abc",)),
        ).validated(today=TODAY)
    assert set(err.value.errors) == {
        "reference",
        "last_name",
        "first_name",
        "birth_date",
        "residence_line",
        "other_phones",
    }


def test_temporary_information_refuses_past_start_and_reversed_period() -> None:
    with pytest.raises(FieldErrors) as err:
        TemporaryInformation(
            "M 75 75056 01 1", TODAY - timedelta(days=1), TODAY - timedelta(days=3), ""
        ).validated(today=TODAY)
    assert set(err.value.errors) == {"start", "end", "content"}
    ok = TemporaryInformation(
        "M 75 75056 01 1", TODAY, TODAY + timedelta(days=2), " Lyon "
    ).validated(today=TODAY)
    start, end = ok.period("Europe/Paris")
    assert start == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 25, 22, 59, 59, tzinfo=UTC)


def test_termination_needs_name_and_date() -> None:
    with pytest.raises(FieldErrors) as err:
        Termination("M 75 75056 01 1", " ", None).validated(today=TODAY)
    assert set(err.value.errors) == {"last_name", "end_date"}


def test_update_without_change_is_refused_and_applies_only_given_fields() -> None:
    with pytest.raises(FieldErrors):
        Update("M 75 75056 01 1", {}).validated(today=TODAY)
    u = Update(
        "M 75 75056 01 1", {"residence": {"line": "9 rue", "postcode": "75012", "city": "Paris"}}
    ).validated(today=TODAY)
    applied = u.apply_to(PERSON)
    assert applied.residence.line == "9 rue" and applied.last_name == "Martin"


@pytest.mark.parametrize(
    "content",
    [
        Attribution("M 75 75056 05 1", PERSON, 3),
        Update("M 75 75056 05 1", {"remarks": "x"}),
        TemporaryInformation("M 75 75056 05 1", TODAY, TODAY, "x"),
        Termination("M 75 75056 05 1", "Martin", TODAY),
    ],
)
def test_content_round_trips_through_its_json(content: object) -> None:
    kind = kind_of(content)  # type: ignore[arg-type]
    assert content_from_dict(kind, content.to_dict()) == content  # type: ignore[attr-defined]


ALL = list(NavetteState)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(ALL, ALL)))
def test_navette_transitions_allowed_and_refused(
    current: NavetteState, target: NavetteState
) -> None:
    if target in NAVETTE_TRANSITIONS[current]:
        check_navette_transition(current, target)
    else:
        with pytest.raises(Conflict):
            check_navette_transition(current, target)


def test_fifteen_minute_clock_only_for_attributions() -> None:
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    deadline = deadline_for(NavetteKind.ATTRIBUTION, at)
    assert deadline == at + timedelta(minutes=15)
    assert deadline_for(NavetteKind.RESILIATION, at) is None
    assert not is_breach(deadline, deadline) and is_breach(
        deadline, deadline + timedelta(seconds=1)
    )
    assert seconds_left(deadline, at) == 900


def test_commissioning_needs_all_three_steps() -> None:
    done = [CommissioningStep.TEST_TERMINAL, CommissioningStep.CHECK_ASSIGNMENT]
    assert missing_steps(done) == [CommissioningStep.TEST_CALL_BY_PERSON]
    with pytest.raises(Conflict):
        check_commissioning_complete(done)
    check_commissioning_complete([*done, CommissioningStep.TEST_CALL_BY_PERSON])


@pytest.mark.parametrize("kind", [Attribution, Update, TemporaryInformation, Termination])
def test_reference_error_naming_a_commune_is_a_field_error_not_a_crash(kind: type) -> None:
    # The parser's message for a commune outside its department has a parameter "name".
    content = {
        Attribution: lambda: Attribution("M 971 97502 01 1", PERSON),
        Update: lambda: Update("M 971 97502 01 1", {"remarks": "x"}),
        TemporaryInformation: lambda: TemporaryInformation(
            "M 971 97502 01 1", TODAY, TODAY, "séjour"
        ),
        Termination: lambda: Termination("M 971 97502 01 1", "Martin", TODAY),
    }[kind]()
    with pytest.raises(FieldErrors) as caught:
        content.validated(today=TODAY)
    (template, params), *_ = caught.value.errors["reference"]
    assert "name" in params and "97502" in template % params
