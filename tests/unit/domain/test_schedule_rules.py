"""Calendar rules of the schedules (R-30, R-34, R-16b): days on the territory's own calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tgd.domain.errors import ValidationError
from tgd.domain.schedules import (
    ChaseOutcome,
    ChaseStep,
    chase_due_at,
    check_chase_step,
    check_positions_extension,
    is_call_hour,
    is_chase_due,
    next_call_time,
    next_chase_step,
    positions_retention_days,
)

NOUMEA, CAYENNE = ZoneInfo("Pacific/Noumea"), ZoneInfo("America/Cayenne")


@pytest.mark.parametrize("zone", [NOUMEA, CAYENNE], ids=["noumea", "cayenne"])
def test_chase_due_after_fifteen_whole_local_days(zone: ZoneInfo) -> None:
    last = datetime(2026, 3, 1, 10, 0, tzinfo=zone)  # tested on 1 March, local time
    assert not is_chase_due(last, datetime(2026, 3, 16, 23, 59, tzinfo=zone), zone.key)
    assert is_chase_due(last, datetime(2026, 3, 17, 0, 1, tzinfo=zone), zone.key)
    assert chase_due_at(last, zone.key) == datetime(2026, 3, 17, tzinfo=zone)


def test_same_utc_instant_is_due_in_noumea_not_in_cayenne() -> None:
    # A test at 1 March 12:00 UTC is 1 March local in both; at 16 March 13:01 UTC it is
    # already 17 March 00:01 in Nouméa (UTC+11) but still 16 March 10:01 in Cayenne (UTC-3).
    last = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    now = datetime(2026, 3, 16, 13, 1, tzinfo=UTC)
    assert is_chase_due(last, now, "Pacific/Noumea")
    assert not is_chase_due(last, now, "America/Cayenne")


def test_chase_due_requires_aware_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        chase_due_at(datetime(2026, 3, 1), "Europe/Paris")


def test_calls_are_proposed_at_reasonable_local_hours() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert is_call_hour(datetime(2026, 3, 2, 10, tzinfo=paris), "Europe/Paris")
    assert not is_call_hour(datetime(2026, 3, 2, 22, tzinfo=paris), "Europe/Paris")
    late = datetime(2026, 3, 2, 22, 30, tzinfo=paris)
    assert next_call_time(late, "Europe/Paris") == datetime(2026, 3, 3, 9, tzinfo=paris)
    early = datetime(2026, 3, 2, 6, 0, tzinfo=NOUMEA)
    assert next_call_time(early, "Pacific/Noumea") == datetime(2026, 3, 2, 9, tzinfo=NOUMEA)
    noon = datetime(2026, 3, 2, 12, 0, tzinfo=NOUMEA)
    assert next_call_time(noon, "Pacific/Noumea") == noon


def test_guided_steps_follow_the_rule() -> None:
    assert next_chase_step([]) is ChaseStep.APPEL_TERMINAL
    assert next_chase_step([("appel_terminal", "joint")]) is ChaseStep.RAPPEL_ESSAIS
    assert next_chase_step([("appel_terminal", "joint"), ("rappel_essais", "fait")]) is None
    unreachable = [("appel_terminal", "injoignable")]
    assert next_chase_step(unreachable) is ChaseStep.APPEL_AUTRES_NUMEROS
    unreachable.append(("appel_autres_numeros", "injoignable"))
    assert next_chase_step(unreachable) is ChaseStep.CONTACT_ASSOCIATION
    assert next_chase_step([*unreachable, ("contact_association", "echec")]) is (
        ChaseStep.CONTACT_ASSOCIATION
    )
    assert next_chase_step([*unreachable, ("contact_association", "fait")]) is None


def test_a_step_out_of_order_is_refused() -> None:
    with pytest.raises(ValidationError, match="attendue"):
        check_chase_step([], ChaseStep.CONTACT_ASSOCIATION, ChaseOutcome.FAIT)
    with pytest.raises(ValidationError, match="résultat"):
        check_chase_step([], ChaseStep.APPEL_TERMINAL, ChaseOutcome.FAIT)


def test_positions_retention_is_capped_at_eight_days() -> None:
    assert positions_retention_days(None) == 3
    assert positions_retention_days(6) == 6
    assert positions_retention_days(30) == 8
    check_positions_extension(8)
    with pytest.raises(ValidationError):
        check_positions_extension(9)
    with pytest.raises(ValidationError):
        check_positions_extension(2)
