"""Pages of the schedules: chase tasks for operators, jobs for administrators, breaches for
supervisors, destruction register for auditors; each for its role only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.integration.jobs.conftest import RunJob, close_file
from tests.integration.web.conftest import csrf_of
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models import AuditEntry, BeneficiaryFile, Task, TaskStep
from tgd.db.writes import write_transaction
from tgd.domain.lifecycle import FileState

Login = Callable[[str], FlaskClient]


def _chase(platform: Platform, clock: FrozenClock, run: RunJob) -> int:
    with write_transaction(platform.sessions) as s:
        s.execute(
            update(BeneficiaryFile)
            .where(BeneficiaryFile.state == FileState.ATTRIBUE)
            .values(last_test_call_at=clock.now() - timedelta(days=20))
        )
    run("test_chase")
    with platform.sessions() as s:
        return s.scalars(select(Task.id).order_by(Task.id)).first()  # type: ignore[return-value]


def test_operator_records_guided_steps_on_the_task_page(
    login: Login, platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    task_id = _chase(platform, clock, run)  # 10:30 in Paris: a reasonable hour
    client = login("operateur")
    listing = client.get("/taches").get_data(as_text=True)
    assert f"/taches/{task_id}" in listing and "Relances des essais" in listing
    page = client.get(f"/taches/{task_id}").get_data(as_text=True)
    assert "Appeler le terminal" in page
    response = client.post(
        f"/taches/{task_id}/etape",
        data={"csrf_token": csrf_of(page), "step": "appel_terminal", "outcome": "joint"},
    )
    assert response.status_code == 302
    page = client.get(f"/taches/{task_id}").get_data(as_text=True)
    assert "Étape enregistrée" in page and "personne jointe" in page
    client.post(
        f"/taches/{task_id}/etape",
        data={"csrf_token": csrf_of(page), "step": "rappel_essais", "outcome": "fait"},
    )
    with platform.sessions() as s:
        steps = s.scalars(select(TaskStep).where(TaskStep.task_id == task_id)).all()
        assert [(x.step, x.outcome) for x in steps] == [
            ("appel_terminal", "joint"),
            ("rappel_essais", "fait"),
        ]
        assert all(x.user_id is not None and x.at == clock.now() for x in steps)
        task = s.get(Task, task_id)
        assert task is not None and task.status == "done"


def test_a_step_out_of_order_is_refused_with_a_message(
    login: Login, platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    task_id = _chase(platform, clock, run)
    client = login("operateur")
    page = client.get(f"/taches/{task_id}").get_data(as_text=True)
    client.post(
        f"/taches/{task_id}/etape",
        data={"csrf_token": csrf_of(page), "step": "contact_association", "outcome": "fait"},
    )
    assert "attendue" in client.get(f"/taches/{task_id}").get_data(as_text=True)


def test_administrator_sees_jobs_and_retention_periods(
    login: Login, platform: Platform, run: RunJob
) -> None:
    run("test_chase")
    page = login("admin").get("/planification").get_data(as_text=True)
    assert "Relance des essais bimensuels" in page and "destruction" in page
    assert "3 jours" in page and "8 jours" in page


def test_supervisor_sees_breaches_operator_does_not(login: Login) -> None:
    assert login("superviseur").get("/delais").status_code == 200
    assert login("operateur").get("/delais").status_code == 403


def test_auditor_exports_the_destruction_register(
    login: Login, platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    close_file(platform, datetime(2026, 7, 1, 8, 0, tzinfo=UTC))
    run("destruction")
    client = login("auditeur")
    page = client.get("/registre-destructions").get_data(as_text=True)
    assert "M 75 75056 04 1" in page
    csv = client.get("/registre-destructions?format=csv")
    assert csv.mimetype == "text/csv" and "M 75 75056 04 1" in csv.get_data(as_text=True)
    ods = client.get("/registre-destructions?format=ods")
    assert ods.mimetype == "application/vnd.oasis.opendocument.spreadsheet"
    assert ods.data[:2] == b"PK"
    with platform.sessions() as s:  # each export audited once (the page itself is not)
        details = s.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "destruction_register.export")
        ).all()
        assert [d["format"] for d in details] == ["csv", "ods"]
    assert login("operateur").get("/registre-destructions").status_code == 403


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("parquet.paris", "/taches"),
        ("comite", "/taches"),
        ("operateur", "/planification"),
        ("auditeur", "/planification"),
    ],
)
def test_pages_are_refused_to_other_roles(login: Login, username: str, url: str) -> None:
    assert login(username).get(url).status_code == 403
