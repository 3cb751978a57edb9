"""The reports page (R-51): scoped choices, anonymized documents for committees, the
nominative annex for the parquet only, every download audited."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import select

from tgd.container import Platform
from tgd.db.models import AuditEntry


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _download(login: Any, username: str, **fields: str) -> Any:
    client = login(username)
    page = client.get("/rapports")
    assert page.status_code == 200
    data = {"scope": "juridiction:75056", "period": "2026-T3", "fmt": "ods", **fields}
    return client.post(
        "/rapports", data={"csrf_token": csrf_of(page.get_data(as_text=True)), **data}
    )


@pytest.mark.parametrize("username", ["comite", "parquet.paris", "superviseur"])
def test_report_roles_download_the_quarter(login: Any, username: str) -> None:
    response = _download(login, username)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.oasis.opendocument.spreadsheet"
    assert "tgd-rapport-75056-2026-T3.ods" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"


def test_committee_sees_only_its_juridictions(login: Any) -> None:
    page = login("comite").get("/rapports").get_data(as_text=True)
    assert "juridiction:75056" in page
    assert "juridiction:97411" not in page and "national:national" not in page
    assert "annexe nominative" not in page.lower()
    refused = _download(login, "comite", scope="juridiction:97411")
    assert refused.status_code == 400


def test_committee_cannot_get_the_annex(login: Any, platform: Platform) -> None:
    response = _download(login, "comite", nominative="y")
    assert response.status_code == 403
    assert "ne permet pas" in response.get_data(as_text=True)
    with platform.sessions() as s:
        assert "report.refused" in s.scalars(select(AuditEntry.action)).all()


def test_parquet_annex_is_audited(login: Any, platform: Platform) -> None:
    response = _download(login, "parquet.paris", nominative="y", password="Demo-Parquet-2026")
    assert response.status_code == 200
    with zipfile.ZipFile(BytesIO(response.data)) as package:
        assert "Lefebvre-Démo" in package.read("content.xml").decode()
    with platform.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "report.download")).one()
        assert entry.details["nominative"] is True and len(entry.details["files_read"]) == 1


def test_supervisor_national_pdf(login: Any) -> None:
    response = _download(
        login, "superviseur", scope="national:national", period="2026-S2", fmt="pdf"
    )
    assert response.status_code == 200 and response.data.startswith(b"%PDF")


def test_bad_period_is_explained(login: Any) -> None:
    response = _download(
        login, "superviseur", period="plage", date_from="2026-09-01", date_to="2026-08-01"
    )
    assert response.status_code == 400
    assert "Période inversée" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["operateur", "association", "admin"])
def test_other_roles_are_refused(login: Any, username: str) -> None:
    assert login(username).get("/rapports").status_code == 403
