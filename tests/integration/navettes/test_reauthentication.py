"""E-08: closing a file (export, destruction scheduled) and a nominative export ask for the
password again; a wrong one changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask.testing import FlaskClient
from sqlalchemy import select

from tests.integration.web.conftest import csrf_of
from tgd.container import Platform
from tgd.db.models import AuditEntry, BeneficiaryFile, Juridiction, Task
from tgd.db.writes import write_transaction
from tgd.domain.lifecycle import FileState
from tgd.domain.navettes import Termination
from tgd.services import exports, navettes, termination

from .conftest import ASSIGNED_LINE, user

Login = Callable[[str], FlaskClient]


def _termination_task(platform: Platform) -> tuple[int, int]:
    """The parquet ends the measure of the demo's Camille Lefebvre-Démo (R-15)."""
    with write_transaction(platform.sessions) as s:
        navettes.submit(
            s,
            Termination(ASSIGNED_LINE, "Lefebvre-Démo", date(2026, 11, 30)),
            user=user(s, "parquet.paris"),
            cipher=platform.cipher,
            clock=platform.clock,
        )
    with platform.sessions() as s:
        task = s.scalars(select(Task).where(Task.kind == termination.TASK_KIND)).first()
        assert task is not None and task.file_id is not None
        return task.id, task.file_id


def test_closing_a_file_asks_for_the_password_again(login: Login, platform: Platform) -> None:
    task_id, file_id = _termination_task(platform)
    operator = login("operateur")
    url = f"/navettes-recues/resiliations/{task_id}"
    page = operator.get(url)
    assert page.status_code == 200, page.status_code
    form = {
        "csrf_token": csrf_of(page.get_data(as_text=True)),
        "measure_ended": "y",
        "terminal_recovered": "y",
        "password": "pas le bon",
    }
    refused = operator.post(url, data=form)
    assert "Mot de passe incorrect." in refused.get_data(as_text=True)
    with platform.sessions() as s:
        file = s.get(BeneficiaryFile, file_id)
        assert file is not None and file.state is not FileState.CLOTURE
    done = operator.post(url, data={**form, "password": "Demo-Operateur-2026"})
    assert done.status_code == 302
    with platform.sessions() as s:
        file = s.get(BeneficiaryFile, file_id)
        assert file is not None and file.state is FileState.CLOTURE
        actions = s.scalars(select(AuditEntry.action)).all()
    assert "login.reauthenticated" in actions


def test_a_nominative_export_asks_for_the_password_again(login: Login) -> None:
    parquet = login("parquet.paris")
    page = parquet.get("/rapports").get_data(as_text=True)
    data = {
        "csrf_token": csrf_of(page),
        "scope": "juridiction:75056",
        "period": "2026-T3",
        "fmt": "ods",
        "nominative": "y",
    }
    refused = parquet.post("/rapports", data=data)
    assert refused.status_code == 403 and "Mot de passe incorrect." in refused.get_data(
        as_text=True
    )
    assert (
        parquet.post("/rapports", data={**data, "password": "Demo-Parquet-2026"}).status_code == 200
    )
    anonymous_only = {k: v for k, v in data.items() if k != "nominative"}
    assert (
        parquet.post("/rapports", data=anonymous_only).status_code == 200
    )  # no annex: no question


def _closure_export(platform: Platform) -> int:
    """A closure export of a Paris file, as the centre produces it at closure (R-15)."""
    with write_transaction(platform.sessions) as s:
        paris = s.scalars(select(Juridiction).where(Juridiction.insee == "75056")).one()
        file = s.scalars(
            select(BeneficiaryFile).where(BeneficiaryFile.juridiction_id == paris.id)
        ).first()
        assert file is not None
        export = exports.export_file(s, file, cipher=platform.cipher, clock=platform.clock)[0]
        return export.id


def test_downloading_a_closure_export_asks_for_the_password_again(
    login: Login, platform: Platform
) -> None:
    export_id = _closure_export(platform)
    parquet = login("parquet.paris")
    url = f"/parquet/exports/{export_id}"
    page = parquet.get(url)
    assert page.status_code == 200 and "Confirmez votre mot de passe" in page.get_data(as_text=True)
    assert "attachment" not in page.headers.get("Content-Disposition", "")
    token = csrf_of(page.get_data(as_text=True))
    empty = parquet.post(url, data={"csrf_token": token})
    assert empty.status_code == 400 and "Content-Disposition" not in empty.headers
    refused = parquet.post(url, data={"csrf_token": token, "password": "pas le bon"})
    assert refused.status_code == 403
    assert "Mot de passe incorrect." in refused.get_data(as_text=True)
    assert "Content-Disposition" not in refused.headers
    with platform.sessions() as s:
        actions = s.scalars(select(AuditEntry.action)).all()
    assert "file.export_download" not in actions
    done = parquet.post(url, data={"csrf_token": token, "password": "Demo-Parquet-2026"})
    assert done.status_code == 200, done.get_data(as_text=True)[:500]
    assert done.headers["Content-Disposition"].startswith('attachment; filename="fiche-')
    assert len(done.get_data()) > 100
    with platform.sessions() as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    download = [e for e in entries if e.action == "file.export_download"]
    reauth = [e for e in entries if e.action == "login.reauthenticated"]
    assert len(download) == 1 and download[0].object_id == str(export_id)
    assert reauth and reauth[-1].details["purpose"] == "file.export_download"
