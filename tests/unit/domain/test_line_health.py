"""Line health: guided steps and the patterns that flag a terminal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tgd.domain.errors import ValidationError
from tgd.domain.line_health import (
    Call,
    HealthOutcome,
    HealthStep,
    Thresholds,
    accidental_burst,
    check_health_step,
    is_silent,
    next_health_step,
    short_call_burst,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = Thresholds(
    silence=timedelta(days=21),
    short_call_seconds=10,
    short_calls=3,
    short_calls_window=timedelta(hours=24),
    accidental_alerts=2,
    accidental_window=timedelta(days=7),
)


def test_line_is_silent_once_the_threshold_is_reached() -> None:
    assert not is_silent(NOW - timedelta(days=20, hours=23), NOW, LIMITS.silence)
    assert is_silent(NOW - timedelta(days=21), NOW, LIMITS.silence)


def test_three_short_calls_in_a_day_are_a_burst_from_the_first() -> None:
    calls = [Call(NOW - timedelta(hours=h), 4) for h in (20, 5, 1)]
    assert short_call_burst(calls, since=NOW - timedelta(days=30), now=NOW, thresholds=LIMITS) == (
        NOW - timedelta(hours=20)
    )


def test_long_calls_calls_in_progress_and_old_calls_do_not_count() -> None:
    calls = [
        Call(NOW - timedelta(hours=1), 45),  # long
        Call(NOW - timedelta(hours=2), None),  # still running
        Call(NOW - timedelta(hours=30), 3),  # outside the window
        Call(NOW - timedelta(hours=3), 3),
        Call(NOW - timedelta(hours=4), 9),
    ]
    assert (
        short_call_burst(calls, since=NOW - timedelta(days=30), now=NOW, thresholds=LIMITS) is None
    )


def test_calls_before_the_previous_follow_up_are_not_counted_again() -> None:
    calls = [Call(NOW - timedelta(hours=h), 2) for h in (6, 5, 4)]
    assert (
        short_call_burst(calls, since=NOW - timedelta(hours=3), now=NOW, thresholds=LIMITS) is None
    )


def test_repeated_accidental_alerts_within_the_window() -> None:
    times = [NOW - timedelta(days=6), NOW - timedelta(days=1)]
    assert accidental_burst(times, since=NOW - timedelta(days=30), now=NOW, thresholds=LIMITS)
    assert not accidental_burst(
        times[:1], since=NOW - timedelta(days=30), now=NOW, thresholds=LIMITS
    )


def test_reached_person_then_conclusion_ends_the_follow_up() -> None:
    history = [(HealthStep.APPEL_TERMINAL.value, HealthOutcome.JOINT.value)]
    assert next_health_step(history) is HealthStep.CONCLUSION
    history.append((HealthStep.CONCLUSION.value, HealthOutcome.PANNE_SUSPECTEE.value))
    assert next_health_step(history) is None


def test_unreachable_person_means_the_association_until_it_is_reached() -> None:
    history = [(HealthStep.APPEL_TERMINAL.value, HealthOutcome.INJOIGNABLE.value)]
    assert next_health_step(history) is HealthStep.CONTACT_ASSOCIATION
    history.append((HealthStep.CONTACT_ASSOCIATION.value, HealthOutcome.ECHEC.value))
    assert next_health_step(history) is HealthStep.CONTACT_ASSOCIATION
    history.append((HealthStep.CONTACT_ASSOCIATION.value, HealthOutcome.FAIT.value))
    assert next_health_step(history) is None


def test_steps_out_of_order_or_impossible_outcomes_are_refused() -> None:
    with pytest.raises(ValidationError):
        check_health_step([], HealthStep.CONCLUSION, HealthOutcome.RAS)
    with pytest.raises(ValidationError):
        check_health_step([], HealthStep.APPEL_TERMINAL, HealthOutcome.RAS)
    check_health_step([], HealthStep.APPEL_TERMINAL, HealthOutcome.JOINT)
