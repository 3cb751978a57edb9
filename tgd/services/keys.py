"""Master-key rotation (R-52, E-07): re-wrap every data key, then, if asked, drop the old keys.

Dropping the old master keys is what makes crypto-shredding reach copies
taken before a destruction: a dump or backup made earlier holds the
destroyed file's data key wrapped under a master key that no longer exists
anywhere, so nothing in it can be unwrapped. Each destruction run therefore
ends with a rotation that drops the previous master key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tgd.db.models.keys import DataKey
from tgd.db.writes import write_transaction
from tgd.ports import Clock, KeyRotatingCipher
from tgd.services import audit, vault

MAX_PASSES = 3  # a process that had not yet seen the new key file may wrap under the old key
BATCH = 200  # data keys re-wrapped per write transaction: each stays a few milliseconds


@dataclass(frozen=True)
class Rotation:
    """What a rotation did."""

    rewrapped: int
    current: str
    dropped: tuple[str, ...]


class RotationIncomplete(RuntimeError):
    """Some data keys are still wrapped under an old master key: it was not dropped."""


def rotate_master_key(
    sessions: sessionmaker[Session],
    cipher: KeyRotatingCipher,
    *,
    drop_old: bool,
    actor: str,
    clock: Clock,
) -> Rotation:
    """Add a new current master key, re-wrap every data key under it, maybe drop the old ones."""
    old_ids = tuple(cipher.ring.ids)
    # The key file is written first: a crash now leaves both keys available, nothing lost.
    cipher.save(cipher.ring.with_new_current())
    rewrapped = 0
    remaining = 0
    for _ in range(MAX_PASSES):
        while True:  # short batches: alerts never wait behind a whole rotation
            with write_transaction(sessions, label="master key rotation") as session:
                moved = vault.rotate_master_key(
                    session, cipher, clock=clock, under=old_ids, limit=BATCH
                )
            rewrapped += moved
            if moved < BATCH:
                break
        with sessions() as session:
            remaining = _count_under(session, old_ids)
        if remaining == 0:
            break
    dropped: tuple[str, ...] = ()
    if drop_old:
        if remaining:
            raise RotationIncomplete(f"{remaining} data keys are still under an old master key")
        ring = cipher.ring
        for key_id in old_ids:
            ring = ring.without(key_id)
        cipher.save(ring)
        dropped = old_ids
    with write_transaction(sessions, label="master key rotation") as session:
        audit.record(
            session,
            actor=actor,
            action="keys.rotate",
            clock=clock,
            details={
                "rewrapped": rewrapped,
                "current": cipher.ring.current_id,
                "dropped": list(dropped),
            },
        )
    return Rotation(rewrapped=rewrapped, current=cipher.ring.current_id, dropped=dropped)


def _count_under(session: Session, master_ids: tuple[str, ...]) -> int:
    return int(
        session.scalar(select(func.count(DataKey.id)).where(DataKey.master_key_id.in_(master_ids)))
        or 0
    )
