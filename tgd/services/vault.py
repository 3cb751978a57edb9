"""Personal data at rest (R-52, E-07): data keys in the database, fields encrypted under them.

Every personal field goes through here. A field's ciphertext is bound to its
table, column and row id (``field_aad``), so the row must have an id: the
functions flush the object first. Destroying a data key (``shred_key``)
removes its row, so every ciphertext made with it, in this database and in
every copy, is unreadable for good.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Insert, Table, inspect, select
from sqlalchemy.orm import Session

from tgd.adapters.crypto import KeyDestroyed, WrappedKey, field_aad
from tgd.db.models.keys import DataKey
from tgd.db.statements import prefixed_insert
from tgd.ports import Cipher, Clock


def create_key(session: Session, cipher: Cipher, *, purpose: str, clock: Clock) -> DataKey:
    """Create and store a new data key wrapped under the current master key."""
    _, values = new_key(cipher, purpose=purpose, clock=clock)
    row = DataKey(**values)
    session.add(row)
    session.flush()
    return row


_KEYS = cast(Table, DataKey.__table__)
_INSERT_KEY = _KEYS.insert()
KEY_ID = _KEYS.c.id
KEY_COLUMNS = ("purpose", "master_key_id", "wrapped", "created_at")


def new_key(cipher: Cipher, *, purpose: str, clock: Clock) -> tuple[WrappedKey, dict[str, Any]]:
    """Make a data key and return it with its row's values, for a statement to insert.

    The row is inserted by the caller's statement (``key_insert_statement``), with the
    rows it protects (an unidentified caller's alert: ``alert_rows``).
    """
    wrapped = cipher.new_data_key()
    values = {
        "purpose": purpose,
        "master_key_id": wrapped.master_key_id,
        "wrapped": wrapped.wrapped,
        "created_at": clock.now(),
    }
    return wrapped, values


def key_insert_statement(prefix: str) -> Insert:
    """A data key's INSERT taking ``new_key``'s values as bind parameters ``<prefix><name>``."""
    return prefixed_insert(_KEYS, prefix, KEY_COLUMNS)


def create_key_now(
    session: Session, cipher: Cipher, *, purpose: str, clock: Clock
) -> tuple[int, WrappedKey]:
    """Create and store a data key in one statement built once; return its id and key.

    The same key as ``create_key`` without an ORM object, for the gateway's hot path (an
    unidentified caller's alert): its caller encrypts with the key returned
    (``put_text(…, key=…)``), which the session could not find without a query.
    """
    wrapped, values = new_key(cipher, purpose=purpose, clock=clock)
    return insert_key(session, values), wrapped


def insert_key(session: Session, values: dict[str, Any]) -> int:
    """Insert a data key's row (``new_key``'s values) at once; return its id."""
    inserted = session.connection().execute(_INSERT_KEY, values).inserted_primary_key
    assert inserted is not None  # an INSERT's result always has it
    return int(inserted[0])


def wrapped_key(session: Session, data_key_id: int | None) -> WrappedKey:
    """Return a stored data key, or raise ``KeyDestroyed`` when it is gone."""
    row = session.get(DataKey, data_key_id) if data_key_id is not None else None
    if row is None:
        raise KeyDestroyed("the data key of this record has been destroyed")
    return WrappedKey(master_key_id=row.master_key_id, wrapped=row.wrapped)


def _aad(obj: Any, column: str) -> bytes:
    mapper = inspect(obj).mapper
    identity = inspect(obj).identity
    if identity is None:
        raise ValueError(f"{mapper.class_.__name__} must be flushed before encrypting {column}")
    row_id = "-".join(str(part) for part in identity)
    return field_aad(mapper.local_table.name, column, row_id)


def put_json(
    session: Session, cipher: Cipher, obj: Any, column: str, value: Any, *, key_id: int
) -> None:
    """Encrypt a JSON value into ``obj.<column>`` under data key ``key_id``."""
    session.flush()
    key = wrapped_key(session, key_id)
    setattr(obj, column, cipher.encrypt_json(key, value, aad=_aad(obj, column)))


def get_json(session: Session, cipher: Cipher, obj: Any, column: str, *, key_id: int | None) -> Any:
    """Decrypt the JSON value of ``obj.<column>``; ``KeyDestroyed`` once shredded."""
    key = wrapped_key(session, key_id)
    blob = getattr(obj, column)
    return None if blob is None else cipher.decrypt_json(key, blob, aad=_aad(obj, column))


def put_text(
    session: Session,
    cipher: Cipher,
    obj: Any,
    column: str,
    value: str | None,
    *,
    key_id: int,
    key: WrappedKey | None = None,
) -> None:
    """Encrypt a text into ``obj.<column>`` under data key ``key_id`` (``key``, if in hand)."""
    session.flush()
    if key is None:
        key = wrapped_key(session, key_id)
    setattr(obj, column, cipher.encrypt_text(key, value, aad=_aad(obj, column)))


def text_for_row(
    cipher: Cipher, key: WrappedKey, table: str, column: str, row_id: int, value: str | None
) -> bytes | None:
    """Encrypt a text for the row ``row_id`` of ``table`` before it is inserted.

    The same ciphertext binding as ``put_text`` (``field_aad``), for a row whose id is
    known before its insert (an alert's, drawn from its sequence: ``alert_rows``).
    """
    return cipher.encrypt_text(key, value, aad=field_aad(table, column, row_id))


def get_text(
    session: Session, cipher: Cipher, obj: Any, column: str, *, key_id: int | None
) -> str | None:
    """Decrypt the text of ``obj.<column>``; ``KeyDestroyed`` once shredded."""
    key = wrapped_key(session, key_id)
    return cipher.decrypt_text(key, getattr(obj, column), aad=_aad(obj, column))


def shred_key(session: Session, cipher: Cipher, data_key_id: int) -> None:
    """Destroy a data key for good: its row goes, and the process forgets it (R-52)."""
    row = session.get(DataKey, data_key_id)
    if row is None:
        return
    cipher.forget(WrappedKey(master_key_id=row.master_key_id, wrapped=row.wrapped))
    session.delete(row)
    session.flush()


def rotate_master_key(
    session: Session,
    cipher: Cipher,
    *,
    clock: Clock,
    under: tuple[str, ...] | None = None,
    limit: int | None = None,
) -> int:
    """Re-wrap data keys under the current master key: all, or at most ``limit`` of those
    wrapped under the master keys ``under``. The data is untouched; return how many moved."""
    query = select(DataKey).order_by(DataKey.id)
    if under is not None:
        query = query.where(DataKey.master_key_id.in_(under))
    if limit is not None:
        query = query.limit(limit)
    count = 0
    # Closed even when a re-wrap fails: on PostgreSQL the rows stream from a server cursor.
    with session.scalars(query.execution_options(yield_per=500)) as rows:
        for row in rows:
            current = WrappedKey(master_key_id=row.master_key_id, wrapped=row.wrapped)
            rewrapped = cipher.rewrap(current)
            if rewrapped != current:
                row.master_key_id, row.wrapped = rewrapped.master_key_id, rewrapped.wrapped
                row.rewrapped_at = clock.now()
                count += 1
    session.flush()
    return count
