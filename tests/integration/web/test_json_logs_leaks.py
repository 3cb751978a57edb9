"""The production log format leaks nothing either (E-11, issue 14).

The acceptance flows of every role (logins, lists, every file, an alert on a known
line, errors) run with the JSON formatter of ``server.log_format = "json"`` on the
root logger at DEBUG; no name, address, phone number or coordinate of the demo data
may appear in what it wrote, and every line is one JSON object.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from tgd.container import Platform
from tgd.db.models import BeneficiaryFile
from tgd.logs import harden_handler

from .test_no_personal_data_leaks import personal_values

Login = Callable[[str], FlaskClient]


def test_acceptance_flows_leave_no_personal_value_in_json_logs(
    login: Login, platform: Platform
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    harden_handler(handler, "json", service="app")
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with platform.sessions() as s:
            file_ids = list(s.scalars(select(BeneficiaryFile.id)))
        operator = login("operateur")
        params = {"CallSid": "CAjsonlogs01", "From": "+33612340001", "To": "+33199000000"}
        url = "http://tgd.test/gateway/twilio/voice"
        signature = RequestValidator("test0123456789abcdef0123456789ab").compute_signature(
            url, params
        )
        assert (
            operator.post(
                "/gateway/twilio/voice", data=params, headers={"X-Twilio-Signature": signature}
            ).status_code
            == 200
        )
        for role in ("operateur", "parquet.paris", "association", "comite", "admin", "auditeur"):
            client = operator if role == "operateur" else login(role)
            for path in ["/", "/dossiers", "/lignes", "/admin/", "/nulle-part", "/console"]:
                client.get(path)
            for file_id in file_ids:
                client.get(f"/dossiers/{file_id}")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    written = stream.getvalue()
    lines = [line for line in written.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    entries = [json.loads(line) for line in lines]  # one JSON object per line
    for entry in entries:
        assert {"time", "level", "logger", "message", "service"} <= set(entry)
    # Every field but the formatter's own timestamp, decoded: a time such as "…:12.365"
    # holds a demo coordinate ("2.36") by chance, and an accented name is escaped in the
    # raw line (``\u00e9``) but not here.
    content = "\n".join(
        json.dumps(
            {key: value for key, value in entry.items() if key != "time"}, ensure_ascii=False
        )
        for entry in entries
    )
    leaked = [value for value in personal_values() if value in content]
    assert leaked == []
    assert "+33612340001" not in written and "0612340001" not in written
