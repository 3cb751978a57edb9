"""Calls answered while the database took no writes: on disk at once, recorded later (R-21, E-05).

The voice webhook commits its alert before it answers (E-01). When it cannot (the
database is down, a standby is being promoted, the write times out) the caller is
still bridged, and the call must not be forgotten: the webhook, or the separate
fallback process that the carrier calls when the app does not answer at all, writes
the call here (one line, ``fsync``'d before the answer) and puts the caller into the
conference named in that line. Every app process of the host runs a ``Replayer``
that records the spooled calls once the database takes writes again, through the
same service as a live call, with the same conference: the operator who claims the
alert joins the bridge where the caller waits. The carrier's call id keeps it once
(E-03): a call that was in fact committed before its process died, then spooled by
the fallback, is not recorded twice.

Files: each writing process appends to its own ``<role>-<pid>-<random>.jsonl``
under an exclusive ``flock``. A replayer claims a file by renaming it (under the same
lock, so no append is lost: a writer that finds its path moved opens a new file),
replays it holding the lock, and deletes it only when every call in it is recorded.
A replayer that dies leaves a claimed file that another one takes over. A line that
cannot be read is moved aside to ``*.dead`` and logged as CRITICAL, never dropped.

The caller's number is personal data: each line is encrypted (AES-GCM) under a key
derived from the Twilio auth token, the one secret that both the app and the
fallback process already hold.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)
SUFFIX = ".jsonl"
CLAIMED = ".claimed"
DEAD = ".dead"
_AAD = b"tgd-spool-v1"


@dataclass(frozen=True)
class SpooledCall:
    """A call answered without the database: what is needed to record it later."""

    call_sid: str
    from_number: str | None
    to_number: str | None
    conference: str | None  # where the caller was put (None: dialled on to ``dial``)
    dial: str | None  # the backup number the caller was dialled to, if any
    received_at: str  # ISO 8601 UTC
    source: str  # "app" (database down) or "fallback" (app down)

    @property
    def received(self) -> datetime:
        """Return when the carrier delivered the call."""
        return datetime.fromisoformat(self.received_at)


def spool_key(auth_token: str) -> bytes:
    """Derive the spool's encryption key from the Twilio auth token."""
    if not auth_token:
        raise ValueError("the spool needs the Twilio auth token to encrypt calls")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_AAD).derive(
        auth_token.encode()
    )


class Spool:
    """One host's spool directory, shared by its app processes and its fallback process."""

    def __init__(self, directory: Path, auth_token: str, *, role: str = "app") -> None:
        self.directory = directory
        self.role = role
        self._key = AESGCM(spool_key(auth_token))
        self._key_id = hashlib.sha256(spool_key(auth_token)).hexdigest()[:12]
        self._lock = threading.Lock()
        self._name = f"{role}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        self._pid = os.getpid()

    # --- writing --------------------------------------------------------------------------

    def append(self, call: SpooledCall) -> None:
        """Write one call durably (``fsync``) before the caller gets an answer."""
        line = (json.dumps(self._seal(call)) + "\n").encode()
        with self._lock:
            if os.getpid() != self._pid:  # forked: a file of our own, never the parent's
                self._pid = os.getpid()
                self._name = f"{self.role}-{self._pid}-{secrets.token_hex(4)}{SUFFIX}"
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.directory / self._name
            while True:
                created = not path.exists()
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    if not _same_file(fd, path):  # claimed by a replayer meanwhile
                        continue
                    os.write(fd, line)
                    os.fsync(fd)
                finally:
                    os.close(fd)  # closing releases the lock
                if created:
                    _fsync_dir(self.directory)
                return

    def _seal(self, call: SpooledCall) -> dict[str, str]:
        nonce = os.urandom(12)
        data = self._key.encrypt(nonce, json.dumps(asdict(call)).encode(), _AAD)
        return {
            "v": "1",
            "kid": self._key_id,
            "nonce": base64.b64encode(nonce).decode(),
            "data": base64.b64encode(data).decode(),
        }

    def _open(self, line: str) -> SpooledCall:
        sealed = json.loads(line)
        if sealed.get("kid") != self._key_id:
            raise ValueError("sealed under another auth token")
        plain = self._key.decrypt(
            base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["data"]), _AAD
        )
        return SpooledCall(**json.loads(plain))

    # --- reading --------------------------------------------------------------------------

    def pending(self) -> int:
        """Return how many calls wait in the spool (claimed or not)."""
        count = 0
        for path in self._files():
            with contextlib.suppress(OSError):
                count += sum(1 for line in path.read_bytes().splitlines() if line.strip())
        return count

    def _files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(
            p
            for p in self.directory.iterdir()
            if p.name.endswith(SUFFIX) or (CLAIMED in p.name and not p.name.endswith(DEAD))
        )

    def replay(self, record: Callable[[SpooledCall], None]) -> int:
        """Record every spooled call with ``record`` (idempotent); return how many were done.

        A file is deleted only when all its calls are recorded; when ``record`` fails
        (the database is still down) the file stays for the next pass.
        """
        self._claim_new()
        done = 0
        for path in self._files():
            if CLAIMED not in path.name:
                continue
            with _locked(path) as locked:
                if not locked:
                    continue  # another replayer has it
                done += self._replay_file(path, record)
        return done

    def _claim_new(self) -> None:
        for path in self._files():
            if not path.name.endswith(SUFFIX):
                continue
            with _locked(path) as locked:
                if not locked:
                    continue  # a writer is appending: next pass
                target = path.with_name(f"{path.name}{CLAIMED}-{secrets.token_hex(4)}")
                with contextlib.suppress(FileNotFoundError):
                    path.rename(target)
                    _fsync_dir(self.directory)

    def _replay_file(self, path: Path, record: Callable[[SpooledCall], None]) -> int:
        try:
            lines = [line for line in path.read_text().splitlines() if line.strip()]
        except FileNotFoundError:
            return 0
        done, unreadable = 0, []
        for line in lines:
            try:
                call = self._open(line)
            except (ValueError, KeyError, TypeError, InvalidTag) as exc:
                unreadable.append(line)
                log.critical("SPOOL: a deferred call cannot be read (%s): kept aside", exc)
                continue
            record(call)  # raises while the database is down: the file stays
            done += 1
        if unreadable:
            dead = path.with_name(path.name + DEAD)
            with dead.open("a") as out:
                out.write("\n".join(unreadable) + "\n")
                out.flush()
                os.fsync(out.fileno())
        path.unlink()
        _fsync_dir(self.directory)
        return done


class Replayer:
    """A thread that replays the host's spool every few seconds while calls wait in it."""

    def __init__(
        self, spool: Spool, record: Callable[[SpooledCall], None], *, every: float = 2.0
    ) -> None:
        self.spool, self.record, self.every = spool, record, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tgd-spool", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread (a file being replayed stays for the next process)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                done = self.spool.replay(self.record)
            except Exception as exc:  # the database is still down: next pass
                log.warning("spool: replay postponed (%s)", type(exc).__name__)
                continue
            if done:
                log.warning("spool: %s deferred call(s) recorded", done)


def now_iso() -> str:
    """Return the current time, ISO 8601 UTC."""
    return datetime.now(UTC).isoformat()


def _same_file(fd: int, path: Path) -> bool:
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bool]:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield _same_file(fd, path)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
