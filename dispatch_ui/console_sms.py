"""The console's SMS panel: texts kept for the operators (unknown senders, free text).

``static/js/sms.js`` lists them from ``GET /api/console/sms`` and follows the
``sms_received`` events; an operator marks a message read once dealt with.
Reading decrypted messages is audited like reading a file.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, jsonify

from dispatch_ui.formatting import local_time
from dispatch_ui.security import audit_read, reads_personal_data, requires
from tgd.http import current_platform, db_session
from tgd.services import messages
from tgd.services.policy import Permission

api = Blueprint("console_sms", __name__, url_prefix="/api/console/sms")


@api.get("")
@requires(Permission.CONSOLE)
@reads_personal_data
def index() -> Any:
    """The unread messages and those of the last 24 hours, newest first."""
    platform = current_platform()
    views = messages.list_messages(db_session(), cipher=platform.cipher, clock=platform.clock)
    if views:
        audit_read("sms.list", details={"count": len(views)})
    timezone = platform.settings.default_timezone
    return jsonify(
        messages=[
            {
                "id": v.id,
                "at": local_time(v.received_at, timezone),
                "sender": v.sender,
                "reference": v.reference,
                "file_id": v.file_id,
                "body": v.body,
                "read": v.read_at is not None,
            }
            for v in views
        ]
    )


@api.post("/<int:sms_id>/lu")
@requires(Permission.CONSOLE)
def mark_read(sms_id: int) -> Any:
    """Record that the operator has read the message and dealt with it."""
    messages.mark_read(db_session(), sms_id, user=g.user, clock=current_platform().clock)
    return jsonify(ok=True)


def init_app(app: Flask) -> None:
    """Register the SMS panel's API."""
    app.register_blueprint(api)
