"""Reading the carrier's call log (Twilio CSV and JSON) before import (§7 tables 3, 7)."""

from __future__ import annotations

import json

import pytest

from tgd.domain.errors import ValidationError
from tgd.services.cdr_import import parse_call_log
from tgd.services.reports.tables import mask_number


def test_json_calls_list_is_read() -> None:
    content = json.dumps(
        {
            "calls": [
                {
                    "sid": "CA1",
                    "from": "+33612340001",
                    "to": "17",
                    "start_time": "Mon, 03 Aug 2026 12:00:00 +0000",
                    "duration": "45",
                    "price": "-0.01",
                }
            ]
        }
    ).encode()
    assert parse_call_log(content) == [
        {
            "sid": "CA1",
            "from": "+33612340001",
            "to": "17",
            "start_time": "Mon, 03 Aug 2026 12:00:00 +0000",
            "duration": "45",
        }
    ]


def test_csv_headers_in_any_spelling() -> None:
    content = (
        b"Call Sid,From,To,Direction,Status,Start Time,Duration\n"
        b"CA2,+33612340001,+33140001111,outbound-dial,completed,2026-08-03T12:00:00Z,30\n"
    )
    row = parse_call_log(content, filename="export.csv")[0]
    assert (row["sid"], row["to"], row["start_time"], row["duration"]) == (
        "CA2",
        "+33140001111",
        "2026-08-03T12:00:00Z",
        "30",
    )


def test_broken_json_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_call_log(b'{"calls": [', filename="x.json")


def test_line_numbers_are_masked_but_their_last_digits() -> None:
    assert mask_number("+33612340001") == "••••••••••01"
    assert mask_number(None) == ""
