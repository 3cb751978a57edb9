"""Report fixtures: the demo data with a third quarter of 2026 of history (our own factories).

The demo is loaded "now" (23 November 2026); ``history`` moves its lines and
files back to spring and adds, in the third quarter, test calls (one late
stretch), alerts (police called, a slow pick-up, a non-compliant call, an
accidental one, a canary that must not count), an incident with a late swap,
a late attribution navette and carrier call records, then closes the file of
``M 75 75056 04 1`` so that a test can destroy it.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.container import Platform
from tgd.db.models import (
    Alert,
    BeneficiaryFile,
    Incident,
    IncidentKind,
    Line,
    Navette,
    Swap,
    Task,
    Terminal,
)
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, Orientation
from tgd.domain.lifecycle import FileState, NavetteKind, NavetteSource, NavetteState
from tgd.services import cdr_import
from tgd.services.demo_history import closed_alert

PARIS = ZoneInfo("Europe/Paris")
_ids = itertools.count(1)


def paris(month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    """Return a 2026 Paris wall-clock time as UTC."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=PARIS).astimezone(UTC)


@dataclass
class History:
    """What the fixture created, for assertions."""

    closed_file_id: int
    police_alert_id: int


def add_alert(
    session: Session,
    file: BeneficiaryFile,
    at: datetime,
    nature: AlertNature,
    orientation: Orientation | None = None,
    **timing: Any,
) -> Alert:
    """Add a closed alert from a file's terminal, with its caller leg (``closed_alert``)."""
    return closed_alert(session, file, at, nature, f"report{next(_ids):06d}", orientation, **timing)


def _tests(session: Session, file: BeneficiaryFile, days: list[tuple[int, int]]) -> None:
    for month, day in days:
        add_alert(
            session,
            file,
            paris(month, day, 18),
            AlertNature.ESSAI,
            orientation=Orientation.AUCUNE,
            duration_s=20,
        )


@pytest.fixture
def history(demo: None, platform: Platform) -> History:
    """Give the demo data a third quarter of 2026 of history (see the module docstring)."""
    with write_transaction(platform.sessions) as s:
        for line in s.scalars(select(Line)):
            line.created_at = paris(5, 1)
        files = {
            f.assignment.reference: f
            for f in s.scalars(select(BeneficiaryFile).join(BeneficiaryFile.assignment))
        }
        for f in files.values():
            f.created_at = paris(6, 1)
            if f.commissioned_at is not None:
                f.commissioned_at = paris(6, 20)
        f1, f2, f4 = files["M 75 75056 01 1"], files["M 75 75056 02 1"], files["M 75 75056 04 1"]
        # File 01: a late stretch (17 July -> 20 August), an alert with police, a slow pick-up.
        _tests(s, f1, [(7, 3), (7, 17), (8, 20), (9, 2), (9, 16), (9, 29)])
        police = add_alert(
            s,
            f1,
            paris(8, 5, 22, 14),
            AlertNature.DANGER_REEL,
            orientation=Orientation.FORCES_ALERTEES,
            pickup_s=6,
            police_after_s=90,
            duration_s=600,
        )
        add_alert(
            s,
            f1,
            paris(9, 1, 3, 2),
            AlertNature.DEMANDE_SOUTIEN,
            orientation=Orientation.SOUTIEN,
            pickup_s=25,
            duration_s=300,
        )
        # File 02: regular tests and a non-compliant call.
        _tests(s, f2, [(7, 1), (7, 14), (7, 28), (8, 10), (8, 24), (9, 7), (9, 21)])
        add_alert(
            s,
            f2,
            paris(8, 12, 14),
            AlertNature.NON_CONFORME,
            orientation=Orientation.AUTRE,
            cause="appel sans rapport avec le dispositif",
            duration_s=90,
        )
        # File 04: an accidental call, then closed on 15 September.
        _tests(s, f4, [(7, 4), (7, 18), (8, 1), (8, 15), (8, 29), (9, 12)])
        add_alert(
            s,
            f4,
            paris(7, 20, 9),
            AlertNature.ACCIDENTEL,
            orientation=Orientation.AUCUNE,
            pickup_s=4,
            duration_s=15,
        )
        f4.termination_requested_at = paris(9, 10)
        f4.closed_at = paris(9, 15)
        f4.state = FileState.CLOTURE
        # A canary never counts (R-24c).
        add_alert(s, f1, paris(8, 10, 4), AlertNature.CANARI, canary=True, pickup_s=60)
        # An incident on line 01 reported on Friday 10 July at 09:00, the handset swapped on
        # Wednesday 15 July at 11:00: 9 + 9 (Saturday) + 9 (Monday) + 0 (14 July, a public
        # holiday) + 2 = 29 opening hours (R-18 breach, CCP X.4).
        line1 = s.get(Line, f1.assignment.line_id)
        assert line1 is not None
        incident = Incident(
            kind=IncidentKind.PANNE_TERMINAL,
            line_id=line1.id,
            reported_at=paris(7, 10, 9),
            diagnosis="écran défaillant",
            answer="terminal échangé",
            resolved_at=paris(7, 15, 11),
        )
        s.add(incident)
        s.flush()
        spare = Terminal(imei="359999999999999", model="TGD-2", created_at=paris(5, 1))
        s.add(spare)
        s.flush()
        s.add(
            Swap(
                line_id=line1.id,
                old_terminal_id=line1.terminal_id,
                new_terminal_id=spare.id,
                incident_id=incident.id,
                reported_at=paris(7, 10, 9),
                swapped_at=paris(7, 15, 11),
                cause="écran défaillant",
            )
        )
        # A late attribution navette (25 minutes, R-10) and a test chase task.
        s.add(
            Navette(
                kind=NavetteKind.ATTRIBUTION,
                source=NavetteSource.PORTAIL,
                state=NavetteState.TRAITEE,
                juridiction_id=line1.juridiction_id,
                file_id=f2.id,
                received_at=paris(7, 2, 10),
                deadline_at=paris(7, 2, 10, 15),
                processed_at=paris(7, 2, 10, 25),
                is_breach=True,
            )
        )
        s.add(
            Task(
                kind="test_chase",
                file_id=f1.id,
                status="closed",
                due_at=paris(8, 2),
                created_at=paris(8, 2),
                closed_at=paris(8, 20),
            )
        )
        s.flush()
        # Carrier records: a private number (Camille's other phone), 17, and a known alert.
        log = {
            "calls": [
                {
                    "sid": "CAcdr000001",
                    "from": line1.msisdn,
                    "to": "+33698760001",
                    "direction": "outbound-dial",
                    "status": "completed",
                    "start_time": "Mon, 03 Aug 2026 12:00:00 +0000",
                    "duration": "120",
                },
                {
                    "sid": "CAcdr000002",
                    "from": line1.msisdn,
                    "to": "17",
                    "direction": "outbound-dial",
                    "status": "completed",
                    "start_time": "Tue, 04 Aug 2026 20:00:00 +0000",
                    "duration": "45",
                },
                {
                    "sid": police.call_sid,
                    "from": line1.msisdn,
                    "to": "+33199000000",
                    "direction": "inbound",
                    "status": "completed",
                    "start_time": "Wed, 05 Aug 2026 20:14:00 +0000",
                    "duration": "600",
                },
            ]
        }
        cdr_import.import_call_log(
            s,
            json.dumps(log).encode(),
            filename="calls.json",
            centre_numbers=("+33199000000",),
            actor="system:cli",
            cipher=platform.cipher,
            clock=platform.clock,
        )
        return History(closed_file_id=f4.id, police_alert_id=police.id)


# --- logging in through the real forms (as tests/integration/web/conftest.py does) ---------


def csrf_of(html: str) -> str:
    """Return the CSRF token of the first form of a page."""
    import re

    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def login(app: Any, platform: Platform, history: History, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Log a new test client in as a demo account (password, then TOTP)."""
    import pyotp

    from tgd.app import limiter
    from tgd.services.demo import DEMO_ACCOUNTS
    from tgd.services.users import mark_enrolled

    accounts = {a.username: a for a in DEMO_ACCOUNTS}
    with write_transaction(platform.sessions) as s:
        mark_enrolled(s, list(accounts), clock=platform.clock)
    monkeypatch.setattr(limiter, "enabled", False)

    def _post(client: Any, url: str, data: dict[str, str]) -> Any:
        token = csrf_of(client.get(url).get_data(as_text=True))
        return client.post(url, data={"csrf_token": token, **data})

    def _login(username: str) -> Any:
        client = app.test_client()
        response = _post(
            client, "/connexion", {"username": username, "password": accounts[username].password}
        )
        assert response.status_code == 302
        if response.headers["Location"].endswith("/connexion/code"):
            totp = pyotp.TOTP(accounts[username].totp_secret)
            code = totp.generate_otp(totp.timecode(platform.clock.now()))
            assert _post(client, "/connexion/code", {"code": code}).status_code == 302
        return client

    return _login
