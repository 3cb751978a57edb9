"""Live penalty exposure on the supervisors' board (CCP VIII.3, VIII.4, VIII.5)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.integration.gateway.conftest import TwilioClient
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models import AuditEntry, ServiceLevelBreach
from tgd.db.writes import write_transaction
from tgd.services import penalties, service_levels
from tgd.settings import Settings

Login = Callable[[str], FlaskClient]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Order values of reference, as a contract's would be configured."""
    return dataclasses.replace(
        settings,
        penalties=dataclasses.replace(
            settings.penalties,
            call_order_value=200.0,
            file_order_value=300.0,
            swap_order_value=1000.0,
        ),
    )


def test_the_contracts_formulas() -> None:
    # VIII.3: 15 s over a 10 s deadline is a 150 % overrun: P = V x 150 / 100.
    assert penalties.price(article="VIII.3", limit_s=10, overrun_s=15, order_value=200) == (
        150.0,
        "%",
        300.0,
    )
    # VIII.4: 2 h 10 over a 24 h deadline: 3 started hours, P = V x 3 / 500.
    assert penalties.price(article="VIII.4", limit_s=86400, overrun_s=7800, order_value=1000) == (
        3.0,
        "h",
        6.0,
    )
    assert penalties.price(article="VIII.3", limit_s=10, overrun_s=0, order_value=200)[2] == 0.0


def test_a_late_call_is_exposed_live_then_exempted_and_the_report_shows_it(
    login: Login, carrier: TwilioClient, platform: Platform, clock: FrozenClock
) -> None:
    assert carrier.call("CApen1").status_code == 200
    clock.advance(seconds=25)  # still unclaimed, 15 s past the 10 s deadline
    supervisor = login("superviseur")
    page = supervisor.get("/console/supervision").get_data(as_text=True)
    board = page.split('id="penalites"', 1)[1]
    assert "appel pris en charge en retard" in board and "en cours" in board
    assert "300.00" in board  # 200 x 150 / 100, live before the job records it
    with write_transaction(platform.sessions) as s:
        service_levels.check_service_levels(s, settings=platform.settings, clock=clock)
        breach = s.scalars(select(ServiceLevelBreach)).one()
    html = supervisor.get("/console/supervision").get_data(as_text=True)
    token = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    url = f"/console/supervision/retards/{breach.id}/exoneration"
    refused = supervisor.post(url, data={"csrf_token": token, "cause": "reseau", "note": ""})
    assert refused.status_code == 302
    answer = supervisor.post(
        url,
        data={"csrf_token": token, "cause": "reseau", "note": "Incident opérateur n° 4521"},
        follow_redirects=True,
    )
    text = answer.get_data(as_text=True)
    assert "Retard exonéré" in text and "défaillance du réseau de télécommunications" in text
    assert "Total exposé : 0.00 € HT" in text
    with platform.sessions() as s:
        assert s.scalars(select(AuditEntry.action)).all().count("penalty.exempt") == 1
    from tgd.services.reports.period import quarter
    from tgd.services.reports.scope import resolve_scope
    from tgd.services.reports.tables import load
    from tgd.services.reports.tables import service_levels as levels

    with platform.sessions() as s:
        data = load(s, resolve_scope(s, national=True), quarter(2026, 4))
    rows = [row[0] for row in levels(data)[1].rows]
    assert any("exonéré (CCP VIII.5 : défaillance du réseau" in str(r) for r in rows)


def _breach(started: datetime, *, kind: str = service_levels.UNCLAIMED) -> ServiceLevelBreach:
    """A recorded late call: 10 s deadline, picked up 25 s after it rang (150 % overrun)."""
    return ServiceLevelBreach(
        kind=kind,
        subject_type="alert",
        subject_id=int(started.timestamp()),
        reference="M 75 75056 01 1",
        started_at=started,
        deadline_at=started + timedelta(seconds=10),
        limit_seconds=10,
        ended_at=started + timedelta(seconds=25),
        delay_seconds=25,
    )


def test_viii_1_caps_the_contracts_penalties_at_the_amount_ordered(
    platform: Platform, settings: Settings, clock: FrozenClock
) -> None:
    now = clock.now()
    since, _ = penalties.quarter_bounds(now, settings.default_timezone)
    with write_transaction(platform.sessions) as s:
        s.add(_breach(since - timedelta(days=30)))  # an earlier quarter: 300.00 by VIII.3
        s.add_all(_breach(since + timedelta(hours=h)) for h in (1, 2))  # this quarter: 600.00
    with platform.sessions() as s:
        board = penalties.exposure(s, settings=settings, clock=clock)
    assert board.cap == 0 and board.total == board.uncapped == 600.0 and not board.capped
    capped = dataclasses.replace(
        settings, penalties=dataclasses.replace(settings.penalties, ordered_amount=700.0)
    )
    with platform.sessions() as s:
        board = penalties.exposure(s, settings=capped, clock=clock)
    assert board.earlier == 300.0
    assert board.uncapped == 600.0 and board.total == 400.0 and board.capped  # 700 - 300 left
    roomy = dataclasses.replace(
        settings, penalties=dataclasses.replace(settings.penalties, ordered_amount=5000.0)
    )
    with platform.sessions() as s:
        board = penalties.exposure(s, settings=roomy, clock=clock)
    assert board.total == 600.0 and not board.capped


def test_the_board_shows_the_viii_1_cap(login: Login) -> None:
    supervisor = login("superviseur")
    page = supervisor.get("/console/supervision").get_data(as_text=True)
    assert "Plafond (VIII.1) non configuré" in page
