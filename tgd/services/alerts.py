"""Use cases of alerts: listing for scripts (DESIGN §10); the gateway adds opening and closing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert


def alert_as_json(alert: Alert) -> dict[str, Any]:
    """Return the public JSON form of an alert (no personal data)."""
    return {
        "id": alert.id,
        "call_sid": alert.call_sid,
        "line_reference": alert.reference,
        "state": alert.state.value,
        "nature": alert.nature.value,
        "is_test": alert.is_test,
        "created_at": alert.created_at.isoformat().replace("+00:00", "Z"),
    }


def list_alerts(session: Session, *, limit: int = 200) -> list[dict[str, Any]]:
    """List the most recent alerts, newest first."""
    rows = session.scalars(select(Alert).order_by(Alert.id.desc()).limit(limit))
    return [alert_as_json(a) for a in rows]
