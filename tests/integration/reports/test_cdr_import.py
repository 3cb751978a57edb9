"""Carrier call records (§7 tables 3 and 7): private numbers only encrypted (R-52), gateway
calls not counted twice, re-import idempotent."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.container import Platform
from tgd.db.models import CarrierCallRecord
from tgd.db.models.audit import AuditEntry
from tgd.services import cdr_import, vault


def test_private_numbers_are_only_stored_encrypted(
    history: object, platform: Platform, session: Session
) -> None:
    rows = {r.counterpart_kind: r for r in session.scalars(select(CarrierCallRecord))}
    assert set(rows) == {"prive", "urgence"}  # the gateway's own call was skipped
    private = rows["prive"]
    assert private.counterpart_number is None and private.counterpart_enc is not None
    assert b"+33698760001" not in private.counterpart_enc
    text = vault.get_text(
        session, platform.cipher, private, "counterpart_enc", key_id=private.data_key_id
    )
    assert text == "+33698760001"
    assert (rows["urgence"].counterpart_number, rows["urgence"].duration_s) == ("17", 45)


def test_reimport_is_idempotent(history: object, platform: Platform, session: Session) -> None:
    line_msisdn = "+33612340001"
    log = [
        {
            "Sid": "CAcdr000002",
            "From": line_msisdn,
            "To": "17",
            "StartTime": "2026-08-04T20:00:00Z",
            "Duration": "45",
        },
        {
            "Sid": "CAcdr000003",
            "From": "+33140001111",
            "To": line_msisdn,
            "StartTime": "2026-08-06T08:00:00Z",
            "Duration": "30",
        },
    ]
    result = cdr_import.import_call_log(
        session,
        json.dumps(log).encode(),
        actor="system:cli",
        cipher=platform.cipher,
        clock=platform.clock,
    )
    assert (result.imported, result.duplicates) == (1, 1)
    audited = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "cdr.import").order_by(AuditEntry.id)
    ).all()[-1]  # the import audits itself, with its counts
    assert (audited.actor, audited.details) == ("system:cli", result.as_details())
    police = session.scalars(
        select(CarrierCallRecord).where(CarrierCallRecord.call_sid == "CAcdr000003")
    ).one()
    assert (police.direction, police.counterpart_kind) == ("entrant", "forces")
