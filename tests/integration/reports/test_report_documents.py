"""Committee documents: no personal data in any produced file, same figures after destruction,
files LibreOffice opens, the nominative annex for the parquet only (DESIGN §7, R-16, R-40, E-11).
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from io import BytesIO
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.container import Platform
from tgd.db.models import Alert, BeneficiaryFile, User
from tgd.db.writes import write_transaction
from tgd.services import destruction, reports
from tgd.services.demo import DEMO_PERSONS
from tgd.services.reports.model import Report


def personal_values() -> set[str]:
    """Every personal value of the demo data, in the forms a document could show."""
    values: set[str] = set()
    for msisdn, p in DEMO_PERSONS.items():
        phones = [msisdn, *p.other_phones]
        for phone in phones:
            values |= {phone, phone.replace("+33", "0"), phone.lstrip("+")}
        values |= {p.last_name, p.first_name, p.magistrate, p.association_contact, p.remarks}
        values |= {p.workplace_hours}
        if p.birth_date:
            values |= {p.birth_date.isoformat(), p.birth_date.strftime("%d/%m/%Y")}
        for address in (p.residence, p.workplace):
            values |= {address.line, address.one_line()}
            for coordinate in (address.lat, address.lon):
                if coordinate is not None:
                    text = f"{coordinate:.4f}"
                    values |= {text, text.replace(".", ",")}
    return {v for v in values if v and len(v) >= 4}


def document_text(content: bytes, fmt: str) -> str:
    """Return everything a reader could see in a produced file."""
    if fmt == "pdf":
        return "\n".join(
            page.extract_text() or "" for page in pypdf.PdfReader(BytesIO(content)).pages
        )
    with zipfile.ZipFile(BytesIO(content)) as package:
        return "\n".join(
            package.read(name).decode("utf-8")
            for name in package.namelist()
            if name.endswith(".xml")
        )


def _report(
    session: Session,
    platform: Platform,
    username: str | None,
    *,
    nominative: bool = False,
    period: str = "2026-Q3",
) -> Report:
    user = session.scalar(select(User).where(User.username == username)) if username else None
    scope, wanted, prov = reports.prepare(
        session,
        juridiction="75056",
        period=period,
        user=user,
        nominative=nominative,
        clock=platform.clock,
    )
    report, _ = reports.build_report(
        session,
        scope,
        wanted,
        provisional=prov,
        clock=platform.clock,
        nominative=nominative,
        cipher=platform.cipher,
    )
    return report


@pytest.mark.parametrize("fmt", reports.FORMATS)
@pytest.mark.parametrize("period", ["2026-Q3", "2026-Q4"])
def test_committee_documents_hold_no_personal_data(
    history: object, platform: Platform, session: Session, fmt: str, period: str
) -> None:
    content = reports.render(_report(session, platform, "comite", period=period), fmt)
    text = document_text(content, fmt)
    assert "Tableau 10" in text and "M 75 75056 01 1" in text  # the scan reads real text
    leaked = sorted(v for v in personal_values() if v in text)
    assert leaked == []
    assert "Annexe nominative" not in text


@pytest.mark.parametrize("fmt", reports.FORMATS)
def test_parquet_annex_names_the_alerts_with_police_action(
    history: object, platform: Platform, session: Session, fmt: str
) -> None:
    report = _report(session, platform, "parquet.paris", nominative=True)
    text = document_text(reports.render(report, fmt), fmt)
    assert "Annexe nominative" in text and "Lefebvre-Démo" in text
    assert "Moreau-Démo" not in text  # her alert had no police action


def test_figures_are_identical_after_destruction(
    history: object, platform: Platform, session: Session
) -> None:
    before = _report(session, platform, None)
    session.rollback()
    with write_transaction(platform.sessions) as s:
        file = s.get(BeneficiaryFile, history.closed_file_id)  # type: ignore[attr-defined]
        assert file is not None
        destruction.destroy_file(
            s, file, cipher=platform.cipher, rule="R-16", actor="system:test", clock=platform.clock
        )
    after = _report(session, platform, None)
    assert [t.rows for t in after.all_tables()] == [t.rows for t in before.all_tables()]
    assert after.figures == before.figures
    assert any("M 75 75056 04 1" in str(r) for r in after.tables[0].rows)


def test_annex_says_when_a_name_was_destroyed(
    history: object, platform: Platform, session: Session
) -> None:
    with write_transaction(platform.sessions) as s:
        alert = s.get(Alert, history.police_alert_id)  # type: ignore[attr-defined]
        assert alert is not None and alert.file_id is not None
        file = s.get(BeneficiaryFile, alert.file_id)
        assert file is not None
        file.data_key_id = None  # as after destruction: the key is gone
    report = _report(session, platform, "parquet.paris", nominative=True)
    assert [r[2] for r in report.annex[0].rows] == ["données détruites (R-16)"]


def _office() -> str | None:
    return shutil.which("libreoffice") or shutil.which("soffice")


@pytest.mark.skipif(
    _office() is None,
    reason="LibreOffice absent: apt-get install libreoffice-calc-nogui libreoffice-writer-nogui",
)
def test_libreoffice_converts_the_documents(
    history: object, platform: Platform, session: Session, tmp_path: Path
) -> None:
    report = _report(session, platform, "comite")
    sources = []
    for fmt in ("ods", "odt"):
        path = tmp_path / f"rapport-{fmt}.{fmt}"
        path.write_bytes(reports.render(report, fmt))
        sources.append(str(path))
    office = _office()
    assert office is not None
    for source in sources:
        done = subprocess.run(
            [
                office,
                "--headless",
                f"-env:UserInstallation=file://{tmp_path}/lo",
                "--convert-to",
                "pdf",
                "--outdir",
                str(tmp_path / "out"),
                source,
            ],
            capture_output=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    for fmt in ("ods", "odt"):
        produced = tmp_path / "out" / f"rapport-{fmt}.pdf"
        assert produced.exists() and produced.stat().st_size > 1000
        text = document_text(produced.read_bytes(), "pdf")
        assert "Tableau 10" in text and "M 75 75056 01 1" in text
