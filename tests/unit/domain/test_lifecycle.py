"""Lifecycles of DESIGN §4: allowed and refused transitions."""

from __future__ import annotations

import itertools

import pytest

from tgd.domain.errors import Conflict
from tgd.domain.lifecycle import (
    FileState,
    LineStatus,
    check_file_transition,
    check_line_transition,
)

LINE_PATH = [
    LineStatus.EN_STOCK,
    LineStatus.EN_ATTENTE,
    LineStatus.MISE_EN_SERVICE,
    LineStatus.AFFECTE,
    LineStatus.RESILIATION_DEMANDEE,
    LineStatus.CLOTURE,
]


@pytest.mark.parametrize(("current", "target"), list(itertools.pairwise(LINE_PATH)))
def test_line_follows_the_design_lifecycle(current: LineStatus, target: LineStatus) -> None:
    check_line_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (LineStatus.EN_STOCK, LineStatus.AFFECTE),
        (LineStatus.EN_ATTENTE, LineStatus.AFFECTE),
        (LineStatus.CLOTURE, LineStatus.EN_ATTENTE),  # a new Y+1 record, never a reopening
        (LineStatus.AFFECTE, LineStatus.CLOTURE),  # termination is requested first
    ],
)
def test_line_skipping_a_step_is_refused_in_french(current: LineStatus, target: LineStatus) -> None:
    with pytest.raises(Conflict) as err:
        check_line_transition(current, target)
    assert "Passage impossible" in err.value.message
    assert current.label in err.value.message


def test_file_is_destroyed_only_after_closure() -> None:
    check_file_transition(FileState.CLOTURE, FileState.DETRUIT)
    with pytest.raises(Conflict):
        check_file_transition(FileState.ATTRIBUE, FileState.DETRUIT)


def test_closed_file_needs_a_termination_request_first() -> None:
    with pytest.raises(Conflict):
        check_file_transition(FileState.ATTRIBUE, FileState.CLOTURE)
    check_file_transition(FileState.RESILIATION_DEMANDEE, FileState.CLOTURE)


def test_every_status_value_is_the_public_one() -> None:
    # DESIGN §10: `tgd lines list --json` statuses
    assert [s.value for s in LINE_PATH] == [
        "en_stock",
        "en_attente",
        "mise_en_service",
        "affecte",
        "resiliation_demandee",
        "cloture",
    ]
