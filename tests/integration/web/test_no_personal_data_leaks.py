"""No personal value of the demo data in logs, URLs or error pages (R-56, E-11).

Runs the demo flows of every role (logins, lists, every file, refusals, errors)
with every logger at DEBUG, then scans everything that was logged for each
name, address, phone number and coordinate of the demo beneficiaries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tgd.container import Platform
from tgd.db.models import BeneficiaryFile
from tgd.logs import RedactingFilter, redact
from tgd.services.demo import DEMO_PERSONS

Login = Callable[[str], FlaskClient]


def personal_values() -> set[str]:
    """Every personal value of the demo data, as it could appear in text."""
    values: set[str] = {
        "+33612340001"
    }  # the lines' own numbers are not personal, but check one anyway
    values.clear()
    for person in DEMO_PERSONS.values():
        values |= {person.last_name, person.first_name, *person.other_phones}
        for address in (person.residence, person.workplace):
            if address.line:
                values.add(address.line)
            if address.lat is not None:
                values |= {f"{address.lat}", f"{address.lon}"}
        values |= {v for v in (person.magistrate, person.association_contact, person.remarks) if v}
    return values


def test_demo_flows_log_no_personal_value(
    login: Login, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with platform.sessions() as s:
        file_ids = list(s.scalars(select(BeneficiaryFile.id)))
    urls: list[str] = []
    for role in ("operateur", "parquet.paris", "association", "comite", "admin", "auditeur"):
        client = login(role)
        for url in [
            "/",
            "/dossiers",
            "/lignes",
            "/admin/",
            "/admin/audit",
            "/nulle-part",
            *(f"/dossiers/{i}" for i in file_ids),
        ]:
            response = client.get(url)
            urls.append(url)
            if response.status_code >= 400:
                page = response.get_data(as_text=True)
                leaked = [v for v in personal_values() if v in page]
                assert leaked == [], f"error page {url} shows {leaked}"
    logged = caplog.text
    assert [v for v in personal_values() if v in logged] == []
    assert [u for u in urls if any(v in u for v in personal_values())] == []


def test_file_page_does_show_the_person_to_the_operator(login: Login, platform: Platform) -> None:
    # The scan above would be meaningless if the values never reached a page at all.
    with platform.sessions() as s:
        first = s.scalars(select(BeneficiaryFile).order_by(BeneficiaryFile.id)).first()
        assert first is not None
    html = login("operateur").get(f"/dossiers/{first.id}").get_data(as_text=True)
    assert "Lefebvre-Démo" in html


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("caller +33612345678 hung up", "caller [téléphone] hung up"),
        ("call 06 12 34 56 78 now", "call [téléphone] now"),
        ("at 48.85890, 2.38000", "at [coordonnées]"),
        ('A"ML=1;lt=+51.53321;lg=-0.12601;rd=14', 'A"ML=1;[coordonnée];[coordonnée];rd=14'),
        ("mail camille@example.org", "mail [courriel]"),
        ("alert=12 file=34", "alert=12 file=34"),
    ],
)
def test_redact_masks_personal_values(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_the_redacting_filter_rewrites_records() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "number %s", ("+33612345678",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "number [téléphone]"
