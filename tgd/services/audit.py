"""The tamper-evident audit log (R-53, R-55): record, seal, verify and export entries.

This module owns every write to ``audit_entries``. Business transactions only
*record* an unsealed entry (``chain_seq``, ``prev_hash`` and ``entry_hash``
NULL) in their own transaction, so an alert, a login or a file read never waits
on, or conflicts over, the head of the hash chain. A separate *sealer* (a
scheduler job calling ``seal``) then chains the committed entries: it reads the
chain's head and the next entries and hashes them outside any write transaction,
then writes the batch in one short statement, serialised by SQLite's write lock
(``BEGIN IMMEDIATE``) or a PostgreSQL advisory lock, only if the head has not moved
meanwhile (else it plans again); the unique ``chain_seq`` makes a fork impossible
even if that lock were bypassed. Chain order is sealing order, not id order (on
PostgreSQL an entry with a lower id can commit, and so be sealed, later).
``verify`` recomputes the chain and reports altered, removed, reordered or
forged entries, and entries the sealer has left unsealed too long. A chain
whose tail was cut, or which was recomputed after an edit, still looks valid
on its own: ``seal(..., anchor_path=...)`` therefore appends the chain head to
an append-only anchor file, and ``verify(..., anchor_path=...)`` checks that
the head still exists. The anchor file must live on other storage than the
database (another disk or host, or be shipped to syslog or a remote log
store), out of reach of whoever can rewrite the database.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Insert, Table, TextClause, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tgd.calls_first import let_calls_pass
from tgd.db import batch_rows
from tgd.db.models.audit import AuditEntry
from tgd.db.statements import prefixed_insert
from tgd.db.writes import Priority, write_connection, write_transaction
from tgd.ports import AnchorCopy, Clock

GENESIS_HASH = "0" * 64

# Key of the PostgreSQL advisory lock that serialises sealers ("TGDAUDIT" in ASCII).
SEAL_LOCK_KEY = 0x5447444155444954

_TABLE = cast(Table, AuditEntry.__table__)
_COLUMNS = (
    _TABLE.c.id,
    _TABLE.c.chain_seq,
    _TABLE.c.at,
    _TABLE.c.actor,
    _TABLE.c.action,
    _TABLE.c.object_type,
    _TABLE.c.object_id,
    _TABLE.c.source,
    _TABLE.c.details,
    _TABLE.c.prev_hash,
    _TABLE.c.entry_hash,
)

# actors are pseudonymous ids or roles, never a login name or an e-mail.
_ACTOR_RE = re.compile(r"user:[1-9][0-9]*|system:[a-z][a-z0-9_.-]*|carrier|terminal|anonymous")
_ACTION_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
_TYPE_RE = re.compile(r"[a-z][a-z0-9_]*")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")

# detail keys whose words name personal data; such values belong in the
# encrypted file, the audit entry only points at it (object_type, object_id).
_PERSONAL_WORDS = frozenset(
    {
        "name", "names", "nom", "noms", "prenom", "prenoms", "firstname", "lastname",
        "surname", "fullname", "username", "birthname", "maiden", "nomusage",
        "address", "addresses", "adresse", "adresses", "street", "rue", "postcode",
        "zipcode", "phone", "phones", "telephone", "tel", "mobile", "portable", "msisdn",
        "imsi", "email", "emails", "mail", "courriel", "lat", "lon", "lng", "latitude",
        "longitude", "coords", "coordinates", "coordonnees", "gps", "geom", "birthdate",
        "dob", "naissance", "password", "passwd",
    }
)  # fmt: skip
# Compound keys written without separators ("phonenumber", "beneficiaryname").
_PERSONAL_PARTS = (
    "phone", "email", "msisdn", "address", "adresse", "prenom", "surname", "latitude",
    "longitude", "courriel", "naissance", "birth", "password",
)  # fmt: skip
# personal data that slipped into a value: e-mail addresses and phone numbers.
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)
_PHONE_RE = re.compile(
    r"(?<![0-9])(?:\+|00)[1-9][0-9 .-]{7,16}[0-9](?![0-9])"  # international
    r"|(?<![0-9])0[1-9](?:[ .-]?[0-9]{2}){4}(?![0-9])"  # French national
)

# Where an entry comes from (the client's address), set by the door on the session of the
# request: a service records the business action it performs and its source together,
# with no Flask in the service (``tgd.http`` sets it when it opens the request's session).
SOURCE_KEY = "tgd.audit_source"
_MAX_LENGTHS = {"actor": 80, "action": 64, "object_type": 40, "object_id": 64, "source": 64}
_MAX_DETAILS_DEPTH = 8


@dataclass(frozen=True)
class AuditReport:
    """The outcome of ``verify``: ``ok`` when the chain is intact and fully sealed in time."""

    ok: bool
    checked: int
    unsealed: int
    problems: list[str] = field(default_factory=list)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str | None = None,
    object_id: str | int | None = None,
    source: str | None = None,
    details: Mapping[str, Any] | None = None,
    clock: Clock,
) -> AuditEntry:
    """Add an unsealed audit entry to the caller's transaction (not flushed, not committed).

    The entry goes to the database with the caller's next flush or its commit, with the
    change it audits: a unit that audits several changes inserts its entries together.
    Without ``source``, the session's (``SOURCE_KEY``: a web request's client address).
    """
    entry = AuditEntry(
        **entry_values(
            session,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            source=source,
            details=details,
            clock=clock,
        )
    )
    session.add(entry)  # STYLE 2: the entry point commits, with the change it audits
    return entry


def insert_now(session: Session, values: Mapping[str, Any]) -> None:
    """Insert an unsealed entry at once, in the caller's transaction, without an ORM object.

    ``values`` come from ``entry_values`` (the same checks as ``record``): one statement
    built once, for the gateway's hot path (an alert's unit), where the ORM's flush of the
    entry cost more CPU than the insert (docs/gateway.md). Its caller must flush what the
    entry audits first; nothing reads the entry back in the transaction.
    """
    insert_all(session, [values])


def insert_all(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """``insert_now`` for many entries (``entry_values``): one statement, executed for all.

    In a gateway batch they go in with the batch's others, before its commit
    (``tgd.db.batch_rows``).
    """
    if rows:
        batch_rows.insert(session, _INSERT, rows)


_INSERT = _TABLE.insert()
ENTRY_COLUMNS = ("at", "actor", "action", "object_type", "object_id", "source", "details")


def insert_statement(prefix: str) -> Insert:
    """An entry's INSERT taking ``entry_values`` as bind parameters named ``<prefix><key>``.

    For a statement that writes an entry with other rows at once (``alert_rows``): this
    module still says what an entry's insert is.
    """
    return prefixed_insert(_TABLE, prefix, ENTRY_COLUMNS)


def entry_values(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str | None = None,
    object_id: str | int | None = None,
    source: str | None = None,
    details: Mapping[str, Any] | None = None,
    clock: Clock,
) -> dict[str, Any]:
    """Check an entry's fields (R-53: no personal data) and return its row's values.

    What ``record`` adds and ``insert_now`` inserts; a statement of its own may insert it
    too (``alert_rows``). Without ``source``, the session's (``SOURCE_KEY``).
    """
    if source is None:
        source = session.info.get(SOURCE_KEY)
    if not _ACTOR_RE.fullmatch(actor):
        raise ValueError(f"audit actor {actor!r} is not user:<id>, system:<name> or a role")
    if not _ACTION_RE.fullmatch(action):
        raise ValueError(f"audit action {action!r} is not a dotted lowercase word")
    if object_type is not None and not _TYPE_RE.fullmatch(object_type):
        raise ValueError(f"audit object_type {object_type!r} is not a lowercase word")
    if isinstance(object_id, bool):
        raise ValueError("audit object_id must be a str or an int, not a bool")
    object_key = None if object_id is None else str(object_id)
    if object_key is not None:
        _refuse_personal_value(object_key, "object_id")
    if source is not None:
        _refuse_personal_value(source, "source")
    for label, value in (
        ("actor", actor),
        ("action", action),
        ("object_type", object_type),
        ("object_id", object_key),
        ("source", source),
    ):
        if value is not None and len(value) > _MAX_LENGTHS[label]:
            raise ValueError(f"audit {label} is longer than {_MAX_LENGTHS[label]} characters")
    clean = _check_details(dict(details or {}), "details", 0)
    # Store exactly what will be hashed: a JSON round trip turns tuples into lists.
    stored: dict[str, Any] = json.loads(_canonical_json(clean))
    at = clock.now()
    if at.tzinfo is None:
        raise ValueError("the clock gave a naive datetime")
    return {
        "at": at.astimezone(UTC),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_key,
        "source": source,
        "details": stored,
    }


def record_committed(
    sessions: sessionmaker[Session],
    *,
    actor: str,
    action: str,
    object_type: str | None = None,
    object_id: str | int | None = None,
    source: str | None = None,
    details: Mapping[str, Any] | None = None,
    clock: Clock,
    priority: Priority = Priority.BACKGROUND,
) -> None:
    """Record an entry in its own short write transaction (refusals, reads of a reading request).

    The caller must not hold a write transaction (``tgd.db.writes``): a refused request
    rolls its own back first.
    """
    with write_transaction(sessions, priority=priority, label=f"audit {action}") as session:
        record(
            session,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            source=source,
            details=details,
            clock=clock,
        )


class AuditChainBroken(RuntimeError):
    """The chain no longer reaches what was anchored: it was rewritten. Nothing is sealed."""


def seal(
    engine: Engine,
    *,
    anchor_path: Path | None = None,
    batch_size: int = 200,
    anchor_copy: AnchorCopy | None = None,
) -> int:
    """Chain every committed unsealed entry in the sealer's own transactions; return the count.

    With an anchor file, the chain must first still reach the last anchored head (the
    entry anchored last, and every entry sealed after it, recomputed from it): a chain
    that was edited and recomputed is never extended, and ``AuditChainBroken`` is raised.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    anchored = _last_anchor(anchor_path) if anchor_path is not None else None
    total = 0
    head: tuple[int, str, datetime] | None = None
    while True:
        sealed, batch_head = _seal_batch(engine, batch_size, anchored if total == 0 else None)
        total += sealed
        head = batch_head or head
        if sealed < batch_size:
            break
    if anchor_path is not None and head is not None:
        # Written after the commit: an anchor never names an entry that was rolled back.
        _append_anchor(anchor_path, head)
        if anchor_copy is not None:
            anchor_copy(_anchor_line(head))
    return total


def verify(
    session: Session,
    *,
    clock: Clock,
    max_unsealed_age: timedelta = timedelta(minutes=5),
    anchor_path: Path | None = None,
) -> AuditReport:
    """Recompute the hash chain and report every sign of tampering or of a stalled sealer."""
    problems: list[str] = []
    anchors = _read_anchors(anchor_path, problems) if anchor_path is not None else {}
    anchor = max(anchors.items()) if anchors else None
    anchored_hash: str | None = None
    expected_seq = 1
    expected_prev = GENESIS_HASH
    checked = 0
    stmt = (
        select(*_COLUMNS)
        .where(_TABLE.c.chain_seq.is_not(None))
        .order_by(_TABLE.c.chain_seq)
        .execution_options(yield_per=1000)
    )
    with session.execute(stmt) as rows:  # closed on an early return too (server cursor)
        for row in rows:
            checked += 1
            seq: int = row.chain_seq
            where = f"entry chain_seq={seq} (id {row.id})"
            gap = False
            if seq > expected_seq:
                gap = True
                missing = (
                    f"chain_seq={expected_seq}"
                    if seq == expected_seq + 1
                    else f"chain_seq={expected_seq}..{seq - 1}"
                )
                problems.append(f"{where}: {missing} missing before it, entries removed")
            elif seq < expected_seq:
                problems.append(f"{where}: chain_seq repeated or out of order")
            if row.prev_hash is None or row.entry_hash is None:
                problems.append(f"{where}: sealed but prev_hash or entry_hash is empty")
            else:
                if row.prev_hash != expected_prev and not gap:
                    problems.append(
                        f"{where}: prev_hash does not match the previous entry's hash, "
                        "entries removed, inserted or reordered"
                    )
                if _digest_row(row.prev_hash, row) != row.entry_hash:
                    problems.append(f"{where}: hash mismatch, content altered or entry_hash forged")
            if anchor is not None and seq == anchor[0]:
                anchored_hash = row.entry_hash
            elif seq in anchors and row.entry_hash != anchors[seq]:
                # Every anchored head must still be there: a rewrite that kept the last one in
                # line (by forging the anchor file's last line) still breaks the earlier ones.
                problems.append(
                    f"anchor chain_seq={seq}: entry_hash differs from the anchored hash, "
                    "chain rewritten"
                )
            expected_seq = max(expected_seq, seq + 1)
            expected_prev = row.entry_hash or ""
    if anchor is not None:
        anchor_seq, anchor_hash = anchor
        if anchored_hash is None:
            problems.append(
                f"anchor chain_seq={anchor_seq}: entry missing, chain ends at "
                f"chain_seq={expected_seq - 1}, log truncated"
            )
        elif anchored_hash != anchor_hash:
            problems.append(
                f"anchor chain_seq={anchor_seq}: entry_hash differs from the anchored hash, "
                "chain rewritten"
            )
    elif anchor_path is not None and checked and not anchor_path.exists():
        problems.append(f"anchor file {anchor_path} not found, truncation cannot be ruled out")
    unsealed = session.scalar(
        select(func.count()).select_from(_TABLE).where(_TABLE.c.chain_seq.is_(None))
    )
    stale = _stale_unsealed(session, clock.now() - max_unsealed_age)
    if stale is not None:
        count, oldest_id, oldest_at = stale
        problems.append(
            f"{count} unsealed entries older than {max_unsealed_age} (oldest id {oldest_id} "
            f"at {_iso(oldest_at)}): the sealer is not running or failing"
        )
    return AuditReport(ok=not problems, checked=checked, unsealed=unsealed or 0, problems=problems)


def latest_entries(session: Session, *, limit: int) -> list[AuditEntry]:
    """Return the latest audit entries, newest first."""
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))


def export(session: Session, *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Yield sealed entries, in chain order, as plain JSON-ready dicts for auditors (R-55)."""
    stmt = select(*_COLUMNS).where(_TABLE.c.chain_seq.is_not(None))
    if since is not None:
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        stmt = stmt.where(_TABLE.c.at >= since)
    stmt = stmt.order_by(_TABLE.c.chain_seq).execution_options(yield_per=1000)
    for row in session.execute(stmt):
        # `at` in the hashed form, so an auditor can recompute with compute_entry_hash.
        yield {
            "chain_seq": row.chain_seq,
            "id": row.id,
            "at": _iso(row.at),
            "actor": row.actor,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "source": row.source,
            "details": row.details,
            "prev_hash": row.prev_hash,
            "entry_hash": row.entry_hash,
        }


def compute_entry_hash(
    prev_hash: str,
    *,
    chain_seq: int,
    entry_id: int,
    at: datetime,
    actor: str,
    action: str,
    object_type: str | None,
    object_id: str | None,
    source: str | None,
    details: Any,
) -> str:
    """Return the SHA-256 hex of ``prev_hash`` followed by the canonical bytes of an entry."""
    content = [chain_seq, entry_id, _iso(at), actor, action, object_type, object_id, source]
    content.append(details)
    return hashlib.sha256(prev_hash.encode("ascii") + _canonical_json(content)).hexdigest()


@dataclass(frozen=True)
class _SealPlan:
    """A batch chained outside any write transaction, written only if its base still holds."""

    base: tuple[int, str]  # the chain's head when it was planned: (chain_seq, entry_hash)
    count: int
    statement: TextClause  # built here, not under the gate: ``_chaining``
    params: dict[str, Any]
    head: tuple[int, str, datetime]


# Sealers that may each find the head moved by another before they write (then plan again).
_SEAL_ATTEMPTS = 10


def _seal_batch(
    engine: Engine, batch_size: int, anchored: tuple[int, str] | None
) -> tuple[int, tuple[int, str, datetime] | None]:
    for _attempt in range(_SEAL_ATTEMPTS):
        plan = _plan_batch(engine, batch_size, anchored)
        if plan is None:
            return 0, None
        if _write_plan(engine, plan):
            return plan.count, plan.head
    raise RuntimeError(
        f"the audit chain's head moved under {_SEAL_ATTEMPTS} plans in a row; nothing sealed"
    )


def _plan_batch(
    engine: Engine, batch_size: int, anchored: tuple[int, str] | None
) -> _SealPlan | None:
    """Read the head and the next unsealed entries, and hash them, in a read transaction.

    The hashing (a canonical JSON and a SHA-256 per entry) is slow computation: the write
    discipline keeps it out of the write transaction, where every statement would wait for
    the GIL with the gate held, and an incoming call behind it (docs/architecture.md).
    """
    # A batch's hashing is a few milliseconds of Python in one go, a few times a second
    # under a burst: it starts after the calls being taken (tgd.calls_first).
    let_calls_pass()
    with engine.connect() as conn:
        if anchored is not None:
            _check_reaches_anchor(conn, anchored)
        seq, prev = _head(conn)
        rows = conn.execute(
            select(*_COLUMNS)
            .where(_TABLE.c.chain_seq.is_(None))
            .order_by(_TABLE.c.id)
            .limit(batch_size)
        ).all()
    if not rows:
        return None
    base = (seq, prev)
    links: list[tuple[int, int, str, str]] = []  # id, chain_seq, prev_hash, entry_hash
    for row in rows:
        seq += 1
        digest = _digest_row(prev, row, chain_seq=seq)
        links.append((row.id, seq, prev, digest))
        prev = digest
    statement, params = _chaining(links)
    return _SealPlan(base, len(links), statement, params, head=(seq, prev, rows[-1].at))


def _write_plan(engine: Engine, plan: _SealPlan) -> bool:
    """Write a planned batch in one statement; False if another sealer moved the head first.

    The write gate, then ``BEGIN IMMEDIATE``, orders this writer after any other of its
    database; on PostgreSQL an advisory lock orders sealers across processes, and each
    statement of READ COMMITTED sees what the previous sealer committed while we waited.
    """
    with write_connection(engine, priority=Priority.BACKGROUND, label="audit seal") as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEAL_LOCK_KEY})
        if _head(conn) != plan.base:
            return False
        result = conn.execute(plan.statement, plan.params)
        if result.rowcount != plan.count:
            # An entry of the plan was sealed meanwhile (the lock was bypassed): roll
            # back, never fork.
            raise RuntimeError("audit entries were sealed concurrently; sealing rolled back")
    return True


def _check_reaches_anchor(conn: Connection, anchored: tuple[int, str]) -> None:
    """Refuse to extend a chain that does not lead from the anchored head to its own head."""
    anchor_seq, anchor_hash = anchored
    rows = conn.execute(
        select(*_COLUMNS).where(_TABLE.c.chain_seq >= anchor_seq).order_by(_TABLE.c.chain_seq)
    ).all()
    if not rows or rows[0].chain_seq != anchor_seq:
        raise AuditChainBroken(f"chain_seq={anchor_seq} is missing: the log was truncated")
    if rows[0].entry_hash != anchor_hash:
        raise AuditChainBroken(f"chain_seq={anchor_seq} no longer has the anchored hash")
    prev = anchor_hash
    for expected, row in enumerate(rows[1:], start=anchor_seq + 1):
        if row.chain_seq != expected:
            raise AuditChainBroken(f"chain_seq={expected} is missing after the anchored head")
        if row.prev_hash != prev or _digest_row(prev, row) != row.entry_hash:
            raise AuditChainBroken(f"chain_seq={expected} does not follow the anchored head")
        prev = row.entry_hash


def _head(conn: Connection) -> tuple[int, str]:
    last = conn.execute(
        select(_TABLE.c.chain_seq, _TABLE.c.entry_hash)
        .where(_TABLE.c.chain_seq.is_not(None))
        .order_by(_TABLE.c.chain_seq.desc())
        .limit(1)
    ).first()
    return (last.chain_seq, last.entry_hash) if last is not None else (0, GENESIS_HASH)


def _chaining(links: list[tuple[int, int, str, str]]) -> tuple[TextClause, dict[str, Any]]:
    """One ``UPDATE … FROM (VALUES …)`` that seals every entry of a batch.

    One statement, where an ``executemany`` steps the database once per entry and gives
    the GIL up, and waits to take it back, each time. The list's columns are SQLite's and
    PostgreSQL's default names (``column1``…: SQLite takes no column list on a derived
    table), and every value is cast so that PostgreSQL types them. The statement starts
    with ``UPDATE`` (not a ``WITH``), so that Python's ``sqlite3`` counts its rows.
    """
    rows: list[str] = []
    params: dict[str, Any] = {}
    for number, (entry_id, seq, prev, digest) in enumerate(links):
        rows.append(
            f"(CAST(:i{number} AS INTEGER), CAST(:s{number} AS INTEGER), "
            f"CAST(:p{number} AS VARCHAR(64)), CAST(:h{number} AS VARCHAR(64)))"
        )
        params.update(
            {f"i{number}": entry_id, f"s{number}": seq, f"p{number}": prev, f"h{number}": digest}
        )
    table = _TABLE.name
    statement = text(
        f"UPDATE {table} SET chain_seq = sealed.column2, prev_hash = sealed.column3, "  # noqa: S608 - numbered binds only
        f"entry_hash = sealed.column4 FROM (VALUES {', '.join(rows)}) AS sealed "
        f"WHERE {table}.id = sealed.column1 AND {table}.chain_seq IS NULL"
    )
    return statement, params


def _digest_row(prev_hash: str, row: Any, *, chain_seq: int | None = None) -> str:
    return compute_entry_hash(
        prev_hash,
        chain_seq=row.chain_seq if chain_seq is None else chain_seq,
        entry_id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        source=row.source,
        details=row.details,
    )


def _append_anchor(path: Path, head: tuple[int, str, datetime]) -> None:
    is_new = not path.exists()
    if is_new:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, f"{_anchor_line(head)}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if is_new:
        # The new directory entry must survive a crash too.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _read_anchors(path: Path, problems: list[str]) -> dict[int, str]:
    """Every anchored head of the file (chain_seq -> hash); malformed lines are reported."""
    anchors: dict[int, str] = {}
    if not path.exists():
        return anchors
    with path.open(encoding="ascii", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.split()
            if len(parts) != 3 or not parts[0].isdigit() or not _HEX64_RE.fullmatch(parts[1]):
                problems.append(f"anchor file {path} line {number}: malformed")
                continue
            seq = int(parts[0])
            if anchors.get(seq, parts[1]) != parts[1]:
                problems.append(f"anchor file {path} line {number}: chain_seq={seq} anchored twice")
            anchors[seq] = parts[1]
    return anchors


def _last_anchor(path: Path | None) -> tuple[int, str] | None:
    """The highest anchored head (two sealers may have appended out of order)."""
    if path is None:
        return None
    anchors = _read_anchors(path, [])
    return max(anchors.items()) if anchors else None


def _anchor_line(head: tuple[int, str, datetime]) -> str:
    seq, entry_hash, at = head
    return f"{seq} {entry_hash} {_iso(at)}"


def _stale_unsealed(session: Session, before: datetime) -> tuple[int, int, datetime] | None:
    stale = _TABLE.c.chain_seq.is_(None) & (_TABLE.c.at < before)
    count = session.scalar(select(func.count()).select_from(_TABLE).where(stale)) or 0
    if not count:
        return None
    oldest = session.execute(
        select(_TABLE.c.id, _TABLE.c.at).where(stale).order_by(_TABLE.c.at).limit(1)
    ).one()
    return count, oldest.id, oldest.at


def _check_details(value: Any, path: str, depth: int) -> Any:
    if depth > _MAX_DETAILS_DEPTH:
        raise ValueError(f"audit {path} is nested too deeply")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"audit {path} is not a finite number")
        return value
    if isinstance(value, str):
        _refuse_personal_value(value, path)
        return value
    if isinstance(value, list | tuple):
        return [_check_details(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        checked: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"audit {path} has a non-string key {key!r}")
            if _is_personal_key(key):
                # no personal data in clear in the audit log.
                raise ValueError(f"audit {path}.{key} looks like personal data, refused")
            checked[key] = _check_details(item, f"{path}.{key}", depth + 1)
        return checked
    raise ValueError(f"audit {path} has a {type(value).__name__}, only JSON scalars allowed")


# The keys are the code's own, a few dozen: each is worked out once (bounded all the same).
@functools.lru_cache(maxsize=4096)
def _is_personal_key(key: str) -> bool:
    ascii_key = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode("ascii")
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", ascii_key).lower()
    words = [word for word in re.split(r"[^a-z0-9]+", spaced) if word]
    if any(word in _PERSONAL_WORDS for word in words):
        return True
    compact = "".join(words)
    return compact.endswith("name") or any(part in compact for part in _PERSONAL_PARTS)


def _refuse_personal_value(value: str, path: str) -> None:
    # a phone number or an e-mail address is personal data whatever its key.
    if _EMAIL_RE.search(value) or _PHONE_RE.search(value):
        raise ValueError(f"audit {path} holds what looks like an e-mail or a phone number")


def _canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit timestamps are aware UTC datetimes")
    return at.astimezone(UTC).isoformat(timespec="microseconds")
