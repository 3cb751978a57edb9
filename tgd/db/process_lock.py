"""The SQLite write gate across processes: a file lock beside the database.

SQLite admits one writer, and a writer of another process (``tgd scheduler``, a CLI
command) meets the server's writer only on SQLite's own lock. Its busy handler waits
by sleeping and trying again, with sleeps growing from 1 ms to 100 ms: a writer that
finds the lock taken may sleep long after it was released. Measured with
``bench/gateway.py`` and the scheduler in a process of its own, a gateway batch of one
webhook held the gate 1.26 s that way (docs/gateway.md).

So a writer first takes an exclusive ``flock`` on ``<database>.write-gate``, after its
own process's gate and before ``BEGIN IMMEDIATE``. The kernel releases it when its
holder ends, even by a crash. ``flock`` has no timeout: a writer that finds it taken
tries again every few hundred microseconds until its deadline. Polling costs only
while another process writes, which is rare and short.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

SUFFIX = ".write-gate"
FIRST_PAUSE = 0.0002  # seconds between tries at first
LONGEST_PAUSE = 0.001  # and at most: a release is noticed within a millisecond


class ProcessLock:
    """An exclusive lock shared by every process that writes one SQLite database.

    Held by one thread of the process at a time (the holder of the process's gate).
    Each process opens the file itself, after a fork too: a ``flock`` belongs to the
    open file, so a descriptor inherited across ``fork`` would be one lock for both.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    @classmethod
    def beside(cls, database: str) -> ProcessLock:
        """The lock of the SQLite database file ``database``, named after the file itself.

        Every path to the file (relative, through a symbolic link) names the same lock.
        """
        path = Path(database).resolve()
        return cls(path.with_name(path.name + SUFFIX))

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting at most ``timeout`` seconds; tell whether it was taken."""
        fd = self._descriptor()
        deadline = time.monotonic() + timeout
        pause = FIRST_PAUSE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
            time.sleep(pause)
            pause = min(2 * pause, LONGEST_PAUSE)

    def release(self) -> None:
        """Let the next writer of any process in."""
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            # Python opens it non-inheritable: no command started from here keeps it.
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd
