"""Rows for the migration data tests: a small centre's seed and one data layer per revision.

The tests carry rows through the revisions the way SecureDrop's migration tests do:
the seed goes in at the first revision (the schema its rows were written for), each
revision's layer adds, at the revision's parent, the rows its tables need
(``before``), says which values the upgrade gives the new columns of existing rows
(``added``: server defaults, backfills) and, at the revision, fills what the revision
created (``after``: new tables, new columns), so that its downgrade has something to
drop.

Everything here goes through SQLAlchemy Core on tables reflected from the database,
never through ``tgd.db.models``: the models follow the head revision, these rows are
written at older ones. Values are read back through the same reflection and made
comparable by ``plain`` (SQLite gives naive datetimes, PostgreSQL aware ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, MetaData, Table, select

Row = dict[str, Any]
Key = tuple[Any, ...]


def at(day: int, hour: int, minute: int = 0, second: int = 0, *, micro: int = 0) -> datetime:
    """Return an instant of November 2026, in UTC (what every UTC column stores)."""
    return datetime(2026, 11, day, hour, minute, second, micro, tzinfo=UTC)


# --------------------------------------------------------------------------------------
# Reading and writing through reflected tables
# --------------------------------------------------------------------------------------


def table(conn: Connection, name: str) -> Table:
    """Reflect one table as it is now in the database."""
    return Table(name, MetaData(), autoload_with=conn, resolve_fks=False)


def insert(conn: Connection, name: str, *rows: Row) -> None:
    """Insert rows into a table as the database has it at the current revision."""
    conn.execute(table(conn, name).insert(), list(rows))


def update(conn: Connection, name: str, key: Any, **values: Any) -> None:
    """Set ``values`` on the row of ``name`` whose primary key is ``key``."""
    target = table(conn, name)
    keys = key if isinstance(key, tuple) else (key,)
    columns = list(target.primary_key.columns)
    where = [column == value for column, value in zip(columns, keys, strict=True)]
    result = conn.execute(target.update().where(*where).values(**values))
    assert result.rowcount == 1, f"{name} {key}: no such row to update"


def plain(value: Any) -> Any:
    """Make a value read back on either backend comparable with what was written."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, memoryview):
        return value.tobytes()
    return value


class TableData(NamedTuple):
    """A table's column names and its rows, keyed by primary key."""

    columns: frozenset[str]
    rows: dict[Key, Row]


Snapshot = dict[str, TableData]


def snapshot(engine: Engine) -> Snapshot:
    """Read every table (but Alembic's own) with every row, as plain values."""
    metadata = MetaData()
    result: Snapshot = {}
    with engine.connect() as conn:
        metadata.reflect(conn, resolve_fks=False)
        for reflected in metadata.sorted_tables:
            if reflected.name == "alembic_version":
                continue
            key_columns = [c.name for c in reflected.primary_key.columns]
            rows: dict[Key, Row] = {}
            for mapping in conn.execute(select(reflected)).mappings():
                row = {name: plain(value) for name, value in mapping.items()}
                rows[tuple(row[c] for c in key_columns)] = row
            result[reflected.name] = TableData(frozenset(c.name for c in reflected.columns), rows)
    return result


# --------------------------------------------------------------------------------------
# Comparisons: each returns the problems found, the tests assert there are none
# --------------------------------------------------------------------------------------


class PerRow(dict[Key, Any]):
    """The value a new column takes, row by row (a backfill), keyed by primary key."""

    def __init__(self, values: Mapping[Any, Any]) -> None:
        super().__init__({k if isinstance(k, tuple) else (k,): v for k, v in values.items()})


Added = Mapping[str, Mapping[str, Any]]  # table -> new column -> value (or PerRow)


def carried_up(before: Snapshot, after: Snapshot, added: Added, lost: Iterable[str]) -> list[str]:
    """Check an upgrade kept every row and value, and gave new columns the expected values.

    ``lost``: tables the upgrade drops, rows and all, on purpose.
    """
    problems: list[str] = []
    dropped = set(lost)
    for name, old in sorted(before.items()):
        if name in dropped:
            if name in after:
                problems.append(f"{name}: expected the upgrade to drop this table")
            continue
        new = after.get(name)
        if new is None:
            problems.append(f"{name}: table gone")
            continue
        if old.columns - new.columns:
            problems.append(f"{name}: columns gone: {sorted(old.columns - new.columns)}")
        new_columns = new.columns - old.columns
        expected = added.get(name, {})
        if new_columns and not old.rows:
            problems.append(
                f"{name}: gains {sorted(new_columns)} but the data layer put no row in it"
            )
        if old.rows and new_columns != set(expected):
            problems.append(
                f"{name}: new columns {sorted(new_columns)}, "
                f"the data layer gives values for {sorted(expected)}"
            )
        if set(new.rows) != set(old.rows):
            problems.append(f"{name}: rows {sorted(old.rows)} became {sorted(new.rows)}")
        for key, row in sorted(old.rows.items()):
            got = new.rows.get(key)
            if got is None:
                continue
            kept = {column: got.get(column) for column in row}
            if kept != row:
                changed = {c: (row[c], kept[c]) for c in row if kept[c] != row[c]}
                problems.append(f"{name} {key}: values changed (before, after): {changed}")
            for column, value in sorted(expected.items()):
                want = value[key] if isinstance(value, PerRow) else value
                if column in got and got[column] != want:
                    problems.append(f"{name} {key}: {column} is {got[column]!r}, expected {want!r}")
    return problems


def same(expected: Snapshot, got: Snapshot, emptied: Iterable[str] = ()) -> list[str]:
    """Check two snapshots hold the same tables, columns and rows.

    ``emptied``: tables expected back empty (their rows were dropped on the way).
    """
    problems: list[str] = []
    empty = set(emptied)
    if set(expected) != set(got):
        problems.append(
            f"tables: missing {sorted(set(expected) - set(got))}, "
            f"unexpected {sorted(set(got) - set(expected))}"
        )
    for name in sorted(set(expected) & set(got)):
        want, have = expected[name], got[name]
        if want.columns != have.columns:
            problems.append(
                f"{name}: columns missing {sorted(want.columns - have.columns)}, "
                f"unexpected {sorted(have.columns - want.columns)}"
            )
        want_rows = {} if name in empty else want.rows
        if set(want_rows) != set(have.rows):
            problems.append(f"{name}: rows {sorted(want_rows)} came back as {sorted(have.rows)}")
        for key in sorted(set(want_rows) & set(have.rows)):
            if want_rows[key] != have.rows[key]:
                a, b = want_rows[key], have.rows[key]
                changed = {
                    c: (a.get(c), b.get(c)) for c in a.keys() | b.keys() if a.get(c) != b.get(c)
                }
                problems.append(f"{name} {key}: values changed (expected, got): {changed}")
    return problems


def seeded(got: Snapshot) -> list[str]:
    """Check the seed reads back as written: every row, every value given."""
    problems: list[str] = []
    for name, rows in SEED:
        have = got.get(name)
        if have is None:
            problems.append(f"{name}: table missing")
            continue
        if len(have.rows) != len(rows):
            problems.append(f"{name}: {len(have.rows)} rows, the seed has {len(rows)}")
        by_values = list(have.rows.values())
        for row in rows:
            want = {column: plain(value) for column, value in row.items()}
            if not any({c: r.get(c) for c in want} == want for r in by_values):
                problems.append(f"{name}: seed row not found as written: {want}")
    return problems


# --------------------------------------------------------------------------------------
# The seed: a small centre, written at the first revision
# --------------------------------------------------------------------------------------

KEY = 1  # the data key every encrypted column of the seed is under

SEED: list[tuple[str, list[Row]]] = [
    (
        "data_keys",
        [
            {
                "id": KEY,
                "purpose": "file",
                "master_key_id": "mk-2026-11",
                "wrapped": b"\x00wrapped data key\xff",
                "created_at": at(2, 8),
                "rewrapped_at": None,
            }
        ],
    ),
    (
        "territories",
        [
            {
                "id": 1,
                "code": "974",
                "name": "La Réunion",
                "timezone": "Indian/Reunion",
                "backup_number": "+262262000000",
                "created_at": at(2, 8),
            }
        ],
    ),
    (
        "organisations",
        [
            {
                "id": 1,
                "kind": "association",
                "name": "France Victimes 974",
                "phone": "+262262111111",
                "email": "accueil@fv974.test",
                "created_at": at(2, 8),
            },
            {
                "id": 2,
                "kind": "parquet",
                "name": "Parquet de Saint-Denis",
                "phone": None,
                "email": "parquet.saint-denis@justice.test",
                "created_at": at(2, 8),
            },
        ],
    ),
    (
        "juridictions",
        [
            {
                "id": 1,
                "insee": "97411",
                "name": "Saint-Denis",
                "territory_id": 1,
                "parquet_phone": "+262262222222",
                "parquet_email": "parquet.saint-denis@justice.test",
                "created_at": at(2, 8),
            }
        ],
    ),
    ("organisation_juridictions", [{"organisation_id": 1, "juridiction_id": 1}]),
    (
        "users",
        [
            {
                "id": 1,
                "username": "operatrice1",
                "display_name": "Opératrice Une",
                "email": None,
                "role": "operator",
                "organisation_id": None,
                "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
                "totp_secret_enc": b"totp secret under the key",
                "totp_key_id": KEY,
                "totp_enrolled_at": at(2, 9),
                "totp_last_step": 59_012_345,
                "is_active": True,
                "sessions_valid_after": None,
                "failed_logins": 0,
                "last_login_at": at(23, 6, 5, micro=123_456),
                "created_at": at(2, 8),
            },
            {
                "id": 2,
                "username": "parquet.sd",
                "display_name": "Substitut de Saint-Denis",
                "email": "substitut@justice.test",
                "role": "parquet",
                "organisation_id": 2,
                "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2Vs$aGFjaA",
                "totp_secret_enc": None,
                "totp_key_id": None,
                "totp_enrolled_at": None,
                "totp_last_step": None,
                "is_active": False,
                "sessions_valid_after": at(20, 12),
                "failed_logins": 3,
                "last_login_at": None,
                "created_at": at(2, 8),
            },
        ],
    ),
    ("user_juridictions", [{"user_id": 2, "juridiction_id": 1}]),
    (
        "force_units",
        [
            {
                "id": 1,
                "territory_id": 1,
                "kind": "police",
                "name": "Commissariat de Saint-Denis",
                "priority_number": "+262262900017",
                "callback_number": None,
                "is_active": True,
                "created_at": at(2, 8),
            }
        ],
    ),
    (
        "terminals",
        [
            {
                "id": 1,
                "imei": "356938035643809",
                "model": "Tracker T1",
                "is_faulty": False,
                "created_at": at(2, 8),
            },
            {
                "id": 2,
                "imei": "356938035643817",
                "model": "Tracker T1",
                "is_faulty": True,
                "created_at": at(2, 8),
            },
        ],
    ),
    (
        "sims",
        [
            {"id": 1, "iccid": "8933150319000000011", "created_at": at(2, 8)},
            {"id": 2, "iccid": "8933150319000000029", "created_at": at(2, 8)},  # in stock
        ],
    ),
    (
        "lines",
        [
            {
                "id": 1,
                "juridiction_id": 1,
                "order_no": 1,
                "msisdn": "+262692000001",
                "sim_id": 1,
                "terminal_id": 1,
                "created_at": at(2, 8),
            },
            {
                "id": 2,
                "juridiction_id": 1,
                "order_no": 2,
                "msisdn": "+262692000002",
                "sim_id": None,
                "terminal_id": None,
                "created_at": at(2, 8),
            },
        ],
    ),
    (
        "line_assignments",
        [
            {
                "id": 1,
                "line_id": 1,
                "assignment_index": 1,
                "reference": "974-0001-01",
                "status": "affecte",
                "status_changed_at": at(5, 10),
                "available_from": None,
                "is_current": True,
                "created_at": at(3, 8),
            }
        ],
    ),
    (
        "line_status_changes",
        [
            {
                "id": 1,
                "assignment_id": 1,
                "from_status": "mise_en_service",
                "to_status": "affecte",
                "at": at(5, 10),
                "user_id": 1,
            }
        ],
    ),
    (
        "beneficiary_files",
        [
            {
                "id": 1,
                "number": "D-2026-0001",
                "assignment_id": 1,
                "juridiction_id": 1,
                "association_id": 1,
                "data_key_id": KEY,
                "state": "attribue",
                "created_at": at(3, 8),
                "commissioned_at": at(5, 10),
                "termination_requested_at": None,
                "closed_at": None,
                "destruction_due_at": None,
                "destroyed_at": None,
                "legal_hold": False,
                "positions_retention_days": 30,
                "last_test_call_at": at(20, 7, 30),
            }
        ],
    ),
    (
        "navettes",
        [
            {
                "id": 1,
                "kind": "attribution",
                "source": "portail",
                "state": "traitee",
                "juridiction_id": 1,
                "file_id": 1,
                "data_key_id": KEY,
                "payload_enc": b"navette payload",
                "received_at": at(3, 7),
                "deadline_at": at(4, 7),
                "processed_at": at(3, 9),
                "is_breach": False,
                "submitted_by_id": 2,
                "processed_by_id": 1,
                "intake_id": None,
                "created_at": at(3, 7),
            }
        ],
    ),
    (
        "file_versions",
        [
            {
                "id": 1,
                "file_id": 1,
                "version_no": 1,
                "personal_enc": b"personal data",
                "changed_fields": ["nom", "adresse_domicile"],
                "navette_id": 1,
                "author_id": 1,
                "created_at": at(3, 9),
            }
        ],
    ),
    (
        "parquet_messages",
        [
            {
                "id": 1,
                "file_id": 1,
                "author_id": 1,
                "content_enc": b"message to the parquet",
                "sent_at": at(23, 7),
                "read_at": None,
            }
        ],
    ),
    (
        "alerts",
        [
            {
                "id": 1,
                "call_sid": "CA00000000000000000000000000000001",
                "territory_id": 1,
                "line_id": 1,
                "assignment_id": 1,
                "file_id": 1,
                "reference": "974-0001-01",
                "data_key_id": KEY,
                "caller_number_enc": b"+262692000001",
                "conference_name": "alert-1",
                "state": "closed",
                "nature": "danger_reel",
                "orientation": "forces_alertees",
                "is_test": False,
                "is_canary": False,
                "ringing_at": at(22, 18, 4, micro=250_001),
                "answered_at": at(22, 18, 4, micro=900_000),
                "claimed_at": at(22, 18, 5),
                "operator_id": 1,
                "escalated_at": None,
                "overflowed_at": None,
                "unit_id": 1,
                "police_called_at": at(22, 18, 6),
                "ended_at": at(22, 18, 30),
                "closed_at": at(22, 19),
                "note_enc": b"operator's note",
                "non_compliance_cause": None,
                "created_at": at(22, 18, 4, micro=250_001),
            },
            {
                "id": 2,
                "call_sid": "CA00000000000000000000000000000002",
                "territory_id": 1,
                "line_id": 1,
                "assignment_id": 1,
                "file_id": 1,
                "reference": "974-0001-01",
                "data_key_id": KEY,
                "caller_number_enc": None,
                "conference_name": "alert-2",
                "state": "ringing",
                "nature": "non_qualifiee",
                "orientation": None,
                "is_test": True,
                "is_canary": False,
                "ringing_at": at(23, 9, 29),
                "answered_at": None,
                "claimed_at": None,
                "operator_id": None,
                "escalated_at": None,
                "overflowed_at": None,
                "unit_id": None,
                "police_called_at": None,
                "ended_at": None,
                "closed_at": None,
                "note_enc": None,
                "non_compliance_cause": None,
                "created_at": at(23, 9, 29),
            },
        ],
    ),
    (
        "call_legs",
        [
            {
                "id": 1,
                "alert_id": 1,
                "call_sid": "CA00000000000000000000000000000001",
                "role": "caller",
                "unit_id": None,
                "user_id": None,
                "status": "completed",
                "started_at": at(22, 18, 4),
                "answered_at": at(22, 18, 4),
                "ended_at": at(22, 18, 30),
                "duration_s": 1560,
            },
            {
                "id": 2,
                "alert_id": 1,
                "call_sid": None,
                "role": "operator",
                "unit_id": None,
                "user_id": 1,
                "status": "completed",
                "started_at": at(22, 18, 5),
                "answered_at": at(22, 18, 5),
                "ended_at": at(22, 18, 30),
                "duration_s": 1500,
            },
            {
                "id": 3,
                "alert_id": 1,
                "call_sid": "CA00000000000000000000000000000003",
                "role": "police",
                "unit_id": 1,
                "user_id": None,
                "status": "completed",
                "started_at": at(22, 18, 6),
                "answered_at": at(22, 18, 7),
                "ended_at": at(22, 18, 20),
                "duration_s": 780,
            },
        ],
    ),
    (
        "positions",
        [
            {
                "id": 1,
                "message_id": "SM00000000000000000000000000000001",
                "line_id": 1,
                "file_id": 1,
                "alert_id": 1,
                "data_key_id": KEY,
                "coords_enc": b"-20.8789,55.4481",
                "accuracy_m": 12,
                "confidence_pct": 68,
                "source": "gnss",
                "channel": "sms",
                "captured_at": at(22, 18, 4),
                "received_at": at(22, 18, 5),
            }
        ],
    ),
    (
        "incidents",
        [
            {  # resolved: becomes a "resolu" ticket
                "id": 1,
                "kind": "panne_terminal",
                "line_id": 1,
                "terminal_id": 2,
                "reported_by_org_id": 1,
                "reported_at": at(10, 8),
                "description": "Écran noir",
                "diagnosis": "Carte mère",
                "answer": "Échange du terminal",
                "resolved_at": at(11, 15),
            },
            {  # still open: becomes an "ouvert" ticket
                "id": 2,
                "kind": "batterie",
                "line_id": 1,
                "terminal_id": 1,
                "reported_by_org_id": 1,
                "reported_at": at(21, 8),
                "description": "Ne tient pas la charge",
                "diagnosis": "",
                "answer": "",
                "resolved_at": None,
            },
        ],
    ),
    (
        "swaps",
        [
            {
                "id": 1,
                "line_id": 1,
                "old_terminal_id": 2,
                "new_terminal_id": 1,
                "incident_id": 1,
                "reported_at": at(10, 8),
                "swapped_at": at(11, 15),
                "cause": "Écran noir",
            }
        ],
    ),
    (
        "tasks",
        [
            {
                "id": 1,
                "kind": "test_call_chase",
                "file_id": 1,
                "line_id": 1,
                "status": "open",
                "due_at": at(24, 7),
                "created_at": at(23, 7),
                "closed_at": None,
                "assignee_id": 1,
                "dedup_key": "chase:1:2026-11",
            }
        ],
    ),
    (
        "console_events",
        [
            {
                "seq": 1,
                "territory_id": 1,
                "kind": "alert.ringing",
                "payload": {"alert_id": 2, "reference": "974-0001-01"},
                "created_at": at(23, 9, 29),
                "published_at": at(23, 9, 29, micro=500),
            },
            {
                "seq": 2,
                "territory_id": None,
                "kind": "system.notice",
                "payload": {},
                "created_at": at(23, 9, 30),
                "published_at": None,
            },
        ],
    ),
    (
        "audit_entries",
        [
            {
                "id": 1,
                "at": at(22, 18, 5),
                "actor": "operatrice1",
                "action": "alert.claim",
                "object_type": "alert",
                "object_id": "1",
                "source": "10.0.0.5",
                "details": {"reference": "974-0001-01"},
                "chain_seq": 1,
                "prev_hash": "0" * 64,
                "entry_hash": "a1" * 32,
            }
        ],
    ),
]


def seed(conn: Connection) -> None:
    """Write the seed (at the first revision)."""
    for name, rows in SEED:
        insert(conn, name, *rows)


# --------------------------------------------------------------------------------------
# One data layer per revision
# --------------------------------------------------------------------------------------


def _nothing(conn: Connection) -> None:
    """No rows to add."""


@dataclass(frozen=True)
class Layer:
    """What one revision's data test writes and expects.

    ``before`` runs at the revision's parent, after the seed was carried there: rows in
    the tables the revision alters that the seed cannot hold (tables created after the
    first revision). ``added``: the values the upgrade gives the new columns of the
    existing rows. ``after`` runs at the revision: rows in every table it creates and
    values in the columns it adds, which its downgrade must drop without touching the
    rest. ``lost``: tables the upgrade drops with their rows on purpose (the downgrade
    gives them back empty).
    """

    revision: str
    added: Added = field(default_factory=dict)
    before: Callable[[Connection], None] = _nothing
    after: Callable[[Connection], None] = _nothing
    lost: frozenset[str] = frozenset()


def _user_session(conn: Connection) -> None:
    insert(
        conn,
        "user_sessions",
        {
            "id": 1,
            "token_hash": "5e" * 32,
            "user_id": 1,
            "created_at": at(23, 6, 5),
            "last_seen_at": at(23, 9, 20),
            "second_factor_at": at(23, 6, 6),
            "ended_at": None,
            "end_reason": None,
            "source": "10.0.0.5",
        },
    )


def _breach(conn: Connection) -> None:
    insert(
        conn,
        "service_level_breaches",
        {
            "id": 1,
            "kind": "alert_answer",
            "subject_type": "alert",
            "subject_id": 1,
            "territory_id": 1,
            "juridiction_id": 1,
            "reference": "974-0001-01",
            "started_at": at(22, 18, 4),
            "deadline_at": at(22, 18, 4, 30),
            "limit_seconds": 30,
            "ended_at": at(22, 18, 5),
            "delay_seconds": 30,
            "detected_at": at(22, 18, 10),
        },
    )


def _sessions_after(conn: Connection) -> None:  # 6a81ed397072
    _user_session(conn)
    update(conn, "users", 2, locked_until=at(23, 10))


def _gateway_after(conn: Connection) -> None:  # 7ecd80f0b835
    insert(
        conn,
        "terminal_credentials",
        {
            "id": 1,
            "key_id": "tk-974-0001",
            "line_id": 1,
            "secret_enc": b"terminal secret",
            "created_at": at(5, 10),
            "revoked_at": None,
        },
    )
    insert(
        conn, "terminal_nonces", {"id": 1, "credential_id": 1, "nonce": "n-1", "seen_at": at(23, 9)}
    )
    insert(
        conn,
        "position_requests",
        {
            "id": 1,
            "line_id": 1,
            "alert_id": 1,
            "message_sid": "SM00000000000000000000000000000009",
            "user_id": 1,
            "requested_at": at(22, 18, 6),
            "answered_at": at(22, 18, 7),
        },
    )
    update(
        conn, "alerts", 1, conference_sid="CF0001", bridge_lost_at=at(22, 18, 9), callback_count=2
    )
    update(conn, "lines", 1, data_key_id=KEY)


def _navettes_after(conn: Connection) -> None:  # 3f1a9c2b7d10
    update(conn, "navettes", 1, reference="974-0001-01")
    update(conn, "parquet_messages", 1, notified_at=at(23, 7, 1))


def _reports_after(conn: Connection) -> None:  # 5c3d9e4f0a32
    insert(
        conn,
        "carrier_call_records",
        {
            "id": 1,
            "call_sid": "CA00000000000000000000000000000001",
            "line_id": 1,
            "file_id": 1,
            "direction": "outbound",
            "counterpart_kind": "platform",
            "counterpart_number": "+262262000000",
            "data_key_id": KEY,
            "counterpart_enc": None,
            "status": "completed",
            "started_at": at(22, 18, 4),
            "duration_s": 1560,
            "imported_at": at(23, 2),
        },
    )


def _console_after(conn: Connection) -> None:  # 6d4e0f5a1b43
    update(conn, "console_events", 1, published_seq=1)


def _line_operations_after(conn: Connection) -> None:  # 7e5f1a6b2c54
    layer = {
        "territory_id": 1,
        "geometry_wkb": b"\x01\x03\x00\x00\x00",
        "source_name": "arcep-2026.geojson",
        "valid_from": at(1, 0),
        "valid_until": None,
        "author_id": 1,
    }
    insert(
        conn,
        "coverage_layers",
        {"id": 1, "kind": "coverage", "features": 12, "magnitude": 2510.5, **layer},
        {"id": 2, "kind": "population", "features": 40, "magnitude": 873102.0, **layer},
    )
    insert(
        conn,
        "coverage_measures",
        {
            "id": 1,
            "territory_id": 1,
            "kind": "population",
            "coverage_id": 1,
            "layer_id": 2,
            "total": 873102.0,
            "covered": 812000.25,
            "computed_at": at(1, 1),
        },
    )
    insert(
        conn,
        "line_activity",
        {"line_id": 1, "last_position_at": at(22, 18, 4), "updated_at": at(22, 18, 5)},
    )
    insert(
        conn,
        "line_restrictions",
        {
            "id": 1,
            "line_id": 1,
            "assignment_id": 1,
            "is_restricted": True,
            "numbers_enc": b"allowed numbers",
            "data_key_id": KEY,
            "voice_count": 2,
            "sms_count": 1,
            "request_ref": "PQ-2026-118",
            "requested_on": date(2026, 11, 4),
            "author_id": 1,
            "created_at": at(4, 11),
            "superseded_at": None,
        },
    )
    update(conn, "alerts", 2, restricted_channel="voix", dialled_number_enc=b"+262262111111")


def _geocode_cache(conn: Connection) -> None:  # a7c1e2d3f4b5, before
    insert(
        conn,
        "geocode_cache",
        {
            "id": 1,
            "address_hash": "ab" * 32,
            "lat": -20.8789,
            "lon": 55.4481,
            "created_at": at(3, 9),
        },
        {"id": 2, "address_hash": "cd" * 32, "lat": None, "lon": None, "created_at": at(3, 9)},
    )


def _every_path_after(conn: Connection) -> None:  # a7c1e2d3f4b5
    insert(
        conn,
        "file_geocodes",
        {
            "id": 1,
            "file_id": 1,
            "place": "domicile",
            "status": "found",
            "version_no": 1,
            "point_enc": b"-20.8789,55.4481",
            "match_type": "housenumber",
            "score": 0.93,
            "attempts": 1,
            "updated_at": at(3, 9, 1),
            "corrected_by_id": None,
        },
    )
    insert(
        conn,
        "inbound_sms",
        {
            "id": 1,
            "message_sid": "SM00000000000000000000000000000010",
            "line_id": None,
            "file_id": None,
            "territory_id": 1,
            "data_key_id": KEY,
            "sender_enc": b"+262692999999",
            "body_enc": b"Bonjour",
            "received_at": at(23, 8),
            "read_at": None,
            "read_by_id": None,
        },
    )
    update(conn, "tasks", 1, escalated_at=at(24, 7, 1))
    update(conn, "beneficiary_files", 1, termination_date=date(2027, 5, 31))


def _inventory_after(conn: Connection) -> None:  # 8f6a2b7c3d65
    insert(
        conn,
        "deliveries",
        {
            "id": 1,
            "filename": "BL-2026-11.csv",
            "sha256": "ef" * 32,
            "terminals": 1,
            "sims": 1,
            "actor": "admin",
            "imported_at": at(9, 14),
        },
    )
    update(conn, "terminals", 1, delivery_id=1, warranty_end=date(2028, 11, 9))
    update(conn, "sims", 2, msisdn="+262692000099", delivery_id=1, delivered_with_id=1)
    update(conn, "swaps", 1, under_warranty=True, user_id=1)
    update(
        conn,
        "incidents",
        2,
        status="en_cours",
        channel="telephone",
        reporter_kind="association",
        reported_by_user_id=2,
        clock_started_at=at(21, 8),
        deadline_at=at(22, 8),
        diagnosed_at=at(21, 9),
        handled_by_user_id=1,
        needs_swap=False,
        under_warranty=True,
        resolution="conseil",
        file_id=1,
        data_key_id=KEY,
        report_enc=b"report",
    )


def _operator_seat_before(conn: Connection) -> None:  # 8f2a6c1d7e54
    _user_session(conn)
    _breach(conn)


def _operator_seat_after(conn: Connection) -> None:  # 8f2a6c1d7e54
    insert(
        conn,
        "console_presences",
        {
            "id": 1,
            "process_key": "web-1",
            "sid": "sid-1",
            "user_id": 1,
            "session_id": 1,
            "connected_at": at(23, 9),
            "seen_at": at(23, 9, 20),
        },
    )
    update(conn, "users", 1, audio_line="sip:poste1@centre.test")
    update(conn, "user_sessions", 1, audio_line="sip:poste1@centre.test", locked_at=at(23, 9, 25))
    update(conn, "call_legs", 3, failure="busy")
    update(
        conn,
        "service_level_breaches",
        1,
        exemption_cause="force_majeure",
        exemption_note="Cyclone",
        exempted_by_id=1,
        exempted_at=at(23, 8),
    )


LAYERS: list[Layer] = [
    Layer("6a81ed397072", added={"users": {"locked_until": None}}, after=_sessions_after),
    Layer(
        "7ecd80f0b835",
        added={
            "alerts": {"conference_sid": None, "bridge_lost_at": None, "callback_count": 0},
            "lines": {"data_key_id": None},
        },
        after=_gateway_after,
    ),
    Layer(
        "3f1a9c2b7d10",
        added={"navettes": {"reference": None}, "parquet_messages": {"notified_at": None}},
        after=_navettes_after,
    ),
    Layer("4b2c8d3e9f21", after=_breach),
    Layer("5c3d9e4f0a32", after=_reports_after),
    Layer("6d4e0f5a1b43", added={"console_events": {"published_seq": None}}, after=_console_after),
    Layer(
        "7e5f1a6b2c54",
        added={"alerts": {"restricted_channel": None, "dialled_number_enc": None}},
        after=_line_operations_after,
    ),
    Layer(
        "a7c1e2d3f4b5",
        added={"tasks": {"escalated_at": None}, "beneficiary_files": {"termination_date": None}},
        before=_geocode_cache,
        after=_every_path_after,
        lost=frozenset({"geocode_cache"}),  # points in clear keyed by address
    ),
    Layer(
        "8f6a2b7c3d65",
        added={
            "terminals": {"warranty_end": None, "delivery_id": None},
            # Each SIM takes its line's number; a SIM in stock has none.
            "sims": {
                "msisdn": PerRow({1: "+262692000001", 2: None}),
                "delivery_id": None,
                "delivered_with_id": None,
            },
            "swaps": {"under_warranty": None, "user_id": None},
            # Incidents become tickets received through an unknown channel.
            "incidents": {
                "status": PerRow({1: "resolu", 2: "ouvert"}),
                "channel": "autre",
                "reporter_kind": None,
                "reported_by_user_id": None,
                "clock_started_at": None,
                "deadline_at": None,
                "diagnosed_at": None,
                "handled_by_user_id": None,
                "needs_swap": None,
                "under_warranty": None,
                "resolution": None,
                "file_id": None,
                "data_key_id": None,
                "report_enc": None,
            },
        },
        after=_inventory_after,
    ),
    Layer(
        "8f2a6c1d7e54",
        added={
            "users": {"audio_line": None},
            "user_sessions": {"audio_line": None, "locked_at": None},
            "call_legs": {"failure": None},
            "service_level_breaches": {
                "exemption_cause": None,
                "exemption_note": None,
                "exempted_by_id": None,
                "exempted_at": None,
            },
        },
        before=_operator_seat_before,
        after=_operator_seat_after,
    ),
]


def all_added() -> dict[str, dict[str, Any]]:
    """Merge every layer's ``added``: what the seed's rows look like at the head."""
    merged: dict[str, dict[str, Any]] = {}
    for layer in LAYERS:
        for name, columns in layer.added.items():
            merged.setdefault(name, {}).update(columns)
    return merged


def all_lost() -> set[str]:
    """Every table some upgrade drops with its rows."""
    return {name for layer in LAYERS for name in layer.lost}
