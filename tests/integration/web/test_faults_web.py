"""The assistance centre over HTTP (R-18): report, diagnosis, swap, scoping, local times, stock.

The clock is Monday 23 November 2026, 10:30 in Paris (09:30 UTC).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.integration.web.conftest import csrf_of, post_form
from tgd.container import Platform
from tgd.db.models import AuditEntry, Incident, Line, Swap, Terminal
from tgd.domain.inventory import luhn_check_digit
from tgd.services import inventory, reports

Login = Callable[[str], FlaskClient]
LINE_1 = "M 75 75056 01 1"
REPORT = {
    "reference": LINE_1,
    "kind": "panne_terminal",
    "symptoms": "L'écran reste noir depuis ce matin.",
    "contact_name": "Greffe du parquet",
    "contact_phone": "01 40 00 00 00",
}


def token(html: str) -> str:
    """Return the CSRF token of the page (every form of a session carries the same one)."""
    match = re.search(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def report_fault(client: FlaskClient, **changes: str) -> int:
    response: Any = post_form(client, "/pannes/signaler", {**REPORT, **changes})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def test_a_parquet_fault_goes_to_a_swap_with_the_same_reference_and_into_the_next_report(
    login: Login, platform: Platform
) -> None:
    parquet = login("parquet.paris")
    assert "Signaler une panne" in parquet.get("/parquet/").get_data(as_text=True)
    ticket_id = report_fault(parquet)
    page = parquet.get(f"/pannes/{ticket_id}").get_data(as_text=True)
    assert "reçu, en attente de diagnostic" in page and "L&#39;écran reste noir" in page
    assert "diagnostic-diagnosis" not in page  # the parquet follows, the centre handles

    operator = login("operateur")
    assert f"/pannes/{ticket_id}" in operator.get("/pannes/").get_data(as_text=True)
    page = operator.get(f"/pannes/{ticket_id}").get_data(as_text=True)
    response = operator.post(
        f"/pannes/{ticket_id}/diagnostic",
        data={
            "diagnostic-csrf_token": token(page),
            "diagnostic-kind": "panne_terminal",
            "diagnostic-diagnosis": "écran défaillant",
            "diagnostic-advice": "redémarrage complet essayé, sans effet",
            "diagnostic-decision": "echange",
        },
    )
    assert response.status_code == 302
    with platform.sessions() as s:
        spare = inventory.stock_terminals(s)[0].imei
    page = operator.get(f"/pannes/{ticket_id}").get_data(as_text=True)
    assert "heure de Paris (Europe/Paris)" in page  # item 6: the form says which zone
    response = operator.post(
        f"/pannes/{ticket_id}/echange",
        data={"echange-csrf_token": token(page), "echange-imei": spare, "echange-cause": ""},
    )
    assert response.status_code == 302
    page = operator.get(f"/pannes/{ticket_id}").get_data(as_text=True)
    assert "terminal échangé sous garantie" in page and f"Nouveau terminal {spare}" in page
    with platform.sessions() as s:
        line = s.scalars(select(Line).where(Line.msisdn == "+33612340001")).one()
        assert line.terminal is not None and line.terminal.imei == spare
        assert next(a.reference for a in line.assignments if a.is_current) == LINE_1
        swap = s.scalars(select(Swap).where(Swap.incident_id == ticket_id)).one()
        assert swap.cause == "écran défaillant"
        # The next report (this quarter, provisional) shows the ticket and the swap.
        scope, period, provisional = reports.prepare(
            s, juridiction="75056", period="2026-Q4", user=None, clock=platform.clock
        )
        report, _ = reports.build_report(
            s, scope, period, provisional=provisional, clock=platform.clock
        )
        entries = list(
            s.scalars(
                select(AuditEntry).where(
                    AuditEntry.object_type == "incident", AuditEntry.object_id == str(ticket_id)
                )
            )
        )
    actions = [e.action for e in entries]
    assert {"fault.report", "fault.read", "fault.diagnose", "fault.swap"} <= set(actions)
    # The faults service audits each step once, in its transaction, with the client's address.
    for action in ("fault.report", "fault.diagnose", "fault.swap"):
        assert actions.count(action) == 1, action
    [swapped] = [e for e in entries if e.action == "fault.swap"]
    assert swapped.details["late"] is False and swapped.source == "127.0.0.1"
    tables = {t.number: t.rows for t in report.tables}
    incident = next(r for r in tables[4] if r[0] == LINE_1 and r[2] == "portail")
    assert incident[3] == "parquet" and incident[6] == "écran défaillant"
    assert incident[8] == "terminal échangé sous garantie" and incident[13] == "non"
    assert incident[12] == 0.0  # swapped at once, within opening hours
    malfunction = next(r for r in tables[10] if r[0] == "panne du terminal")
    assert malfunction[1:5] == [1, 1, 1, 0]
    handsets = [r for r in tables[2] if r[0] == LINE_1]
    assert [r[1] for r in handsets][-1] == spare and len(handsets) == 2
    assert handsets[0][8] == "23/11/2026"  # the old handset came off the line today


def test_the_phone_form_takes_the_time_of_the_line_territory(
    login: Login, platform: Platform
) -> None:
    operator = login("operateur")
    page = operator.get("/pannes/appel?reference=M+974+97411+01+1").get_data(as_text=True)
    assert "heure de La Réunion (Indian/Reunion)" in page
    response = operator.post(
        "/pannes/appel",
        data={
            "csrf_token": csrf_of(page),
            "reference": "M 974 97411 01 1",
            "received_at": "2026-11-23T13:00",  # 13:00 in La Réunion is 09:00 UTC
            "reporter_kind": "association",
            "organisation_id": "0",
            "kind": "batterie",
            "symptoms": "La batterie se vide en une demi-journée.",
            "contact_phone": "0262 20 00 00",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with platform.sessions() as s:
        ticket = s.scalars(select(Incident).order_by(Incident.id.desc())).first()
        assert ticket is not None
        assert ticket.reported_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        assert ticket.channel.value == "telephone" and ticket.reporter_kind == "association"
    missing = operator.get("/pannes/appel?reference=M+75+75056+42+1")
    assert missing.status_code == 404
    assert "Aucune ligne ne porte la référence" in missing.get_data(as_text=True)


def test_another_courts_ticket_answers_like_a_missing_one(login: Login) -> None:
    parquet = login("parquet.paris")
    ticket_id = report_fault(parquet)
    reunion = login("parquet.reunion")
    assert reunion.get(f"/pannes/{ticket_id}").status_code == 404
    assert reunion.get("/pannes/999999").status_code == 404
    assert f"/pannes/{ticket_id}" not in reunion.get("/pannes/").get_data(as_text=True)
    form = reunion.get("/pannes/signaler").get_data(as_text=True)
    assert "M 974 97411 01 1" in form and LINE_1 not in form
    association = login("association")  # Paris
    assert association.get(f"/pannes/{ticket_id}").status_code == 200
    assert association.get("/pannes/signaler").status_code == 200
    assert login("comite").get("/pannes/").status_code == 403
    page = parquet.get(f"/pannes/{ticket_id}").get_data(as_text=True)
    refused = parquet.post(f"/pannes/{ticket_id}/diagnostic", data={"csrf_token": token(page)})
    assert refused.status_code == 403


def test_the_admin_swap_form_reads_the_line_territory_time(
    login: Login, platform: Platform
) -> None:
    with platform.sessions() as s:
        line_id = s.scalars(select(Line.id).where(Line.msisdn == "+508551001")).one()
        spare = inventory.stock_terminals(s)[0].imei
    admin = login("admin")
    url = f"/admin/lignes/{line_id}/echange"
    page = admin.get(url).get_data(as_text=True)
    assert "heure de Saint-Pierre-et-Miquelon (America/Miquelon)" in page
    response: Any = post_form(
        admin, url, {"imei": spare, "reported_at": "2026-11-23T06:00", "cause": "chute"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with platform.sessions() as s:
        swap = s.scalars(select(Swap).where(Swap.line_id == line_id)).one()
        assert swap.reported_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 06:00 at UTC-3


def _imei(n: int) -> str:
    body = f"35222222{n:06d}"
    return body + str(luhn_check_digit(body))


def _upload(client: FlaskClient, content: bytes) -> Any:
    page = client.get("/admin/lignes/terminaux").get_data(as_text=True)
    return client.post(
        "/admin/lignes/terminaux",
        data={"csrf_token": csrf_of(page), "note": (io.BytesIO(content), "bordereau.csv")},
        content_type="multipart/form-data",
    )


def test_the_admin_imports_a_delivery_note_all_or_nothing(login: Login, platform: Platform) -> None:
    def count() -> int:
        with platform.sessions() as s:
            return int(s.scalar(select(func.count(Terminal.id))) or 0)

    admin = login("admin")
    before = count()
    header = "imei,iccid,msisdn,model,warranty_end\n"
    bad = header + f"{_imei(1)},,,A,2028-06-30\n{_imei(2)[:-1]}0,,,A,2028-06-30\n"
    if _imei(2).endswith("0"):
        bad = bad.replace(f"{_imei(2)[:-1]}0", f"{_imei(2)[:-1]}1")
    response = _upload(admin, bad.encode())
    assert response.status_code == 400
    assert "ligne 3 : L&#39;IMEI" in response.get_data(as_text=True)
    assert count() == before
    response = _upload(admin, (header + f"{_imei(1)},,,A,2028-06-30\n").encode())
    assert response.status_code == 302
    assert count() == before + 1
    assert _imei(1) in admin.get("/admin/lignes/terminaux").get_data(as_text=True)


def test_what_a_reporter_writes_never_reaches_logs_or_committee_reports(
    login: Login, platform: Platform, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    canaries = {
        "symptoms": "Mme Canari-Pannes ne capte plus chez elle, 12 rue des Canaris",
        "contact_name": "M. Canari-Greffe",
        "contact_phone": "06 98 76 54 32",
    }
    parquet = login("parquet.paris")
    ticket_id = report_fault(parquet, **canaries)
    assert "Canari-Pannes" in parquet.get(f"/pannes/{ticket_id}").get_data(as_text=True)
    operator = login("operateur")
    operator.get("/pannes/")
    operator.get(f"/pannes/{ticket_id}")
    with platform.sessions() as s:
        scope, period, provisional = reports.prepare(
            s, juridiction="75056", period="2026-Q4", user=None, clock=platform.clock
        )
        report, _ = reports.build_report(
            s, scope, period, provisional=provisional, clock=platform.clock
        )
        stored = s.get(Incident, ticket_id)
        assert stored is not None and stored.report_enc is not None
        assert b"Canari" not in stored.report_enc and b"98 76" not in stored.report_enc
    documents = {fmt: reports.render(report, fmt) for fmt in ("ods", "odt")}
    with zipfile.ZipFile(io.BytesIO(documents["ods"])) as package:
        spreadsheet = package.read("content.xml").decode()
    with zipfile.ZipFile(io.BytesIO(documents["odt"])) as package:
        text = package.read("content.xml").decode()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in ("Canari-Pannes", "Canari-Greffe", "rue des Canaris", "+33698765432", "98 76"):
        assert value not in logged and value not in spreadsheet and value not in text


def test_advice_is_required_to_close_on_advice_and_a_refusal_changes_nothing(
    login: Login, platform: Platform
) -> None:
    ticket_id = report_fault(login("parquet.paris"))
    operator = login("operateur")
    page = operator.get(f"/pannes/{ticket_id}").get_data(as_text=True)
    reads_before = _ticket_actions(platform, ticket_id).count("fault.read")
    response = operator.post(
        f"/pannes/{ticket_id}/diagnostic",
        data={
            "diagnostic-csrf_token": token(page),
            "diagnostic-kind": "batterie",
            "diagnostic-diagnosis": "économie d'énergie désactivée",
            "diagnostic-advice": "",
            "diagnostic-decision": "conseil",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="diagnostic-advice-erreur"' in html and "Indiquez les conseils donnés." in html
    assert "L&#39;écran reste noir" in html  # the report stays beside the form to correct
    with platform.sessions() as s:
        ticket = s.get(Incident, ticket_id)
        assert ticket is not None and ticket.status.value == "ouvert" and not ticket.diagnosis
    # The refused form showed the ticket again: that read is audited, the refused change not.
    actions = _ticket_actions(platform, ticket_id)
    assert actions.count("fault.read") == reads_before + 1 and "fault.diagnose" not in actions


def _ticket_actions(platform: Platform, ticket_id: int) -> list[str]:
    with platform.sessions() as s:
        return list(
            s.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.object_type == "incident", AuditEntry.object_id == str(ticket_id)
                )
            )
        )
