"""Annexe 2 I.1 for administrators: lists set and lifted at the parquet's request, audited,
encrypted, and exported in the documented CSV for the carrier."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.integration.web.conftest import csrf_of
from tgd.container import Platform
from tgd.db.models.audit import AuditEntry
from tgd.db.models.lines import Line
from tgd.db.models.restrictions import LineRestriction
from tgd.db.writes import write_transaction
from tgd.domain.errors import ValidationError
from tgd.services import restrictions

LINE_1 = "+33612340001"
FRIEND = "+33611223344"


def _line_id(platform: Platform, msisdn: str = LINE_1) -> int:
    with platform.sessions() as session:
        found = session.scalar(select(Line.id).where(Line.msisdn == msisdn))
    assert found is not None
    return found


def _set(client: FlaskClient, line_id: int, **data: str) -> object:
    url = f"/admin/restrictions/lignes/{line_id}"
    token = csrf_of(client.get(url).get_data(as_text=True))
    form = {
        "csrf_token": token,
        "voice": "",
        "sms": "",
        "request_ref": "courrier 2026/118",
        "requested_on": "2026-11-20",
    }
    form.update(data)
    return client.post(url, data=form)


def test_administrator_sets_a_list_kept_encrypted_and_audited_without_numbers(
    login: Callable[[str], FlaskClient], platform: Platform
) -> None:
    admin = login("admin")
    line_id = _line_id(platform)
    response = _set(admin, line_id, voice="06 11 22 33 44\n01 45 67 89 00", sms="0611223344")
    assert response.status_code == 302  # type: ignore[attr-defined]
    with platform.sessions() as session:
        version = session.scalar(select(LineRestriction).where(LineRestriction.line_id == line_id))
        assert version is not None and version.is_restricted
        assert (version.voice_count, version.sms_count) == (2, 1)
        assert version.numbers_enc is not None and b"611223344" not in version.numbers_enc
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "line.restriction_set")
        ).all()
        assert len(entries) == 1 and entries[0].object_id == str(line_id)
        assert "611223344" not in str(entries[0].details)
    page = admin.get(f"/admin/restrictions/lignes/{line_id}").get_data(as_text=True)
    assert FRIEND in page and "courrier 2026/118" in page  # shown to the administrator…
    with platform.sessions() as session:
        reads = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "line.restriction_read")
        ).all()
    assert reads  # …and that reading is audited


def test_unreadable_number_is_refused_and_nothing_changes(
    login: Callable[[str], FlaskClient], platform: Platform
) -> None:
    admin = login("admin")
    line_id = _line_id(platform)
    response = _set(admin, line_id, voice="06 11 22 33 44\nappeler maman")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "appeler maman" in response.get_data(as_text=True)  # type: ignore[attr-defined]
    with platform.sessions() as session:
        assert session.scalar(select(LineRestriction.id)) is None


def test_lifting_keeps_the_history_and_needs_the_parquets_request(
    login: Callable[[str], FlaskClient], platform: Platform
) -> None:
    admin = login("admin")
    line_id = _line_id(platform)
    _set(admin, line_id, voice="0611223344")
    url = f"/admin/restrictions/lignes/{line_id}"
    token = csrf_of(admin.get(url).get_data(as_text=True))
    refused = admin.post(
        f"{url}/lever",
        data={"lever-csrf_token": token, "lever-request_ref": "", "lever-requested_on": ""},
    )
    assert refused.status_code == 302
    with platform.sessions() as session:
        line = session.get(Line, line_id)
        assert line is not None and restrictions.current_restriction(session, line) is not None
    admin.post(
        f"{url}/lever",
        data={
            "lever-csrf_token": token,
            "lever-request_ref": "courrier 2026/131",
            "lever-requested_on": "2026-11-22",
        },
    )
    with platform.sessions() as session:
        line = session.get(Line, line_id)
        assert line is not None and restrictions.current_restriction(session, line) is None
        versions = restrictions.history(session, line)
        assert [v.is_restricted for v in versions] == [False, True]
        assert versions[1].superseded_at is not None
        assert session.scalar(
            select(AuditEntry.id).where(AuditEntry.action == "line.restriction_lift")
        )


def test_operator_may_not_edit_restrictions(
    login: Callable[[str], FlaskClient], platform: Platform
) -> None:
    operator = login("operateur")
    assert operator.get("/admin/restrictions/").status_code == 403
    assert operator.get(f"/admin/restrictions/lignes/{_line_id(platform)}").status_code == 403
    assert operator.get("/admin/restrictions/export.csv").status_code == 403


def test_carrier_csv_lists_each_restricted_line_with_the_centre_first(
    login: Callable[[str], FlaskClient], platform: Platform
) -> None:
    with write_transaction(platform.sessions) as session:
        line = session.scalar(select(Line).where(Line.msisdn == LINE_1))
        assert line is not None
        restrictions.set_restriction(
            session,
            line,
            voice=["0611223344", "0145678900"],
            sms=["0611223344"],
            request_ref="courrier 2026/118",
            requested_on=date(2026, 11, 20),
            user_id=None,
            cipher=platform.cipher,
            clock=platform.clock,
        )
        other = session.scalar(select(Line).where(Line.msisdn == "+33612340002"))
        assert other is not None
        restrictions.set_restriction(  # an empty list: the centre and emergencies only
            session,
            other,
            voice=[],
            sms=[],
            request_ref="navette 2026-000042",
            requested_on=date(2026, 11, 21),
            user_id=None,
            cipher=platform.cipher,
            clock=platform.clock,
        )
    response = login("admin").get("/admin/restrictions/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("msisdn,allowed_number,voice,sms,category,restricted_since\r\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_line: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_line.setdefault(row["msisdn"], []).append(row)
    assert set(by_line) == {LINE_1, "+33612340002"}  # unrestricted lines are absent
    first = by_line[LINE_1]
    assert [(r["allowed_number"], r["category"]) for r in first[:2]] == [
        ("+33199000000", "centre"),
        ("+33199000001", "centre"),
    ]
    listed = {
        r["allowed_number"]: (r["voice"], r["sms"]) for r in first if r["category"] == "liste"
    }
    assert listed == {"+33145678900": ("1", "0"), FRIEND: ("1", "1")}
    assert first[0]["restricted_since"] == "2026-11-23T09:30:00Z"
    assert {r["category"] for r in by_line["+33612340002"]} == {"centre"}
    with platform.sessions() as session:
        entry = session.scalar(
            select(AuditEntry).where(AuditEntry.action == "line.restriction_export")
        )
    assert entry is not None and entry.details["lines"] == 2 and FRIEND not in str(entry.details)


@pytest.mark.usefixtures("demo")
def test_request_reference_and_date_are_required(session: Session, platform: Platform) -> None:
    line = session.scalar(select(Line).where(Line.msisdn == LINE_1))
    assert line is not None
    with pytest.raises(ValidationError):
        restrictions.set_restriction(
            session,
            line,
            voice=["0611223344"],
            sms=[],
            request_ref="  ",
            requested_on=date(2026, 11, 20),
            user_id=None,
            cipher=platform.cipher,
            clock=platform.clock,
        )
    with pytest.raises(ValidationError):
        restrictions.set_restriction(
            session,
            line,
            voice=["0611223344"],
            sms=[],
            request_ref="courrier",
            requested_on=date(2026, 12, 25),
            user_id=None,
            cipher=platform.cipher,
            clock=platform.clock,
        )
