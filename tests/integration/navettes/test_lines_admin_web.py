"""The lines administration pages: the line service audits what they do."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select

from tgd.container import Platform
from tgd.db.models import AuditEntry, LineAssignment

from .conftest import csrf_of, post_form

Login = Callable[[str], FlaskClient]


def test_adding_then_activating_a_line_is_audited_once_each(
    login: Login, platform: Platform
) -> None:
    admin = login("admin")
    added = post_form(
        admin,
        "/admin/lignes/",
        {"juridiction": "75056", "order_no": "42", "msisdn": "06 12 34 99 42"},
    )
    assert added.status_code == 302  # type: ignore[attr-defined]
    with platform.sessions() as s:
        record = s.scalars(
            select(LineAssignment).where(LineAssignment.reference == "M 75 75056 42 1")
        ).one()
        line_id = record.line_id
    token = csrf_of(admin.get("/admin/lignes/").get_data(as_text=True))
    activated = admin.post(f"/admin/lignes/{line_id}/activer", data={"csrf_token": token})
    assert activated.status_code == 302
    with platform.sessions() as s:
        entries = s.scalars(
            select(AuditEntry).where(
                AuditEntry.object_type == "line", AuditEntry.object_id == str(line_id)
            )
        ).all()
        admin_id = s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "line.add"))
    assert [e.action for e in entries] == ["line.add", "line.activate"]
    assert all(e.source == "127.0.0.1" and e.actor == admin_id for e in entries)
    assert admin_id is not None and admin_id.startswith("user:")
