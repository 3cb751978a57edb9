"""The SQLite write gate across processes (``tgd.db.process_lock``).

The other process is real: a ``tgd`` writer started with ``subprocess``, or a fork.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tgd.db.process_lock import ProcessLock
from tgd.db.session import make_engine
from tgd.db.writes import Priority, WriteGateTimeout, gate_for, write_connection

# A writer of another process: it takes a write transaction, says so, and commits when
# told to (a line on its standard input), or never if it is killed first.
_OTHER_WRITER = """
import sys
from sqlalchemy import create_engine, text
from tgd.db.session import make_engine
from tgd.db.writes import write_connection

engine = make_engine(sys.argv[1])
with write_connection(engine, label="other process") as conn:
    conn.execute(text("INSERT INTO t (v) VALUES ('other')"))
    print("holding", flush=True)
    sys.stdin.readline()
print("committed", flush=True)
"""


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with make_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))  # DDL
    return url


@contextmanager
def other_writer(url: str) -> Iterator[subprocess.Popen[str]]:
    """A writer in another process, holding its write transaction until told to commit."""
    with subprocess.Popen(
        [sys.executable, "-c", _OTHER_WRITER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "holding"
            yield process
        finally:
            process.kill()


def test_a_writer_waits_for_the_writer_of_another_process_then_goes_first(
    database: str,
) -> None:
    engine = make_engine(database)
    gate = gate_for(engine)
    with other_writer(database) as other:
        with pytest.raises(WriteGateTimeout, match="held by another process"):
            gate.acquire(Priority.ALERT, timeout=0.2, label="gateway x1")
        assert not gate.holds()  # the process's slot was given back with the failure
        assert other.stdin is not None and other.stdout is not None
        other.stdin.write("commit\n")
        other.stdin.flush()
        with write_connection(engine, priority=Priority.ALERT, timeout=10) as conn:
            # Taken once the other process committed: its row is there.
            assert conn.execute(text("SELECT v FROM t")).scalars().all() == ["other"]
        assert other.stdout.readline().strip() == "committed"
    assert gate.stats.process_waits == 2
    assert gate.stats.timeouts == 1


def test_a_writer_that_dies_holding_the_lock_lets_the_others_write(database: str) -> None:
    engine = make_engine(database)
    with other_writer(database) as other:
        other.send_signal(signal.SIGKILL)
        other.wait(10)
        with write_connection(engine, timeout=10) as conn:
            conn.execute(text("INSERT INTO t (v) VALUES ('after the crash')"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM t")).scalars().all() == ["after the crash"]


def test_a_forked_process_does_not_share_its_parents_lock(tmp_path: Path) -> None:
    lock = ProcessLock.beside(str(tmp_path / "forked.db"))
    assert lock.acquire(1.0)
    child = os.fork()
    if child == 0:  # the child: the parent holds the lock, so it must not get it
        os._exit(1 if lock.acquire(0.1) else 0)
    _, status = os.waitpid(child, 0)
    lock.release()
    assert os.waitstatus_to_exitcode(status) == 0
    assert lock.acquire(0.1)  # released: free again
    lock.release()


def test_the_lock_file_sits_beside_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert ProcessLock.beside("tgd.db").path == tmp_path / "tgd.db.write-gate"
    (tmp_path / "data").mkdir()
    (tmp_path / "link.db").symlink_to(tmp_path / "data" / "tgd.db")
    assert ProcessLock.beside("link.db").path == tmp_path / "data" / "tgd.db.write-gate"


def test_an_in_memory_database_has_no_process_lock() -> None:
    assert gate_for(create_engine("sqlite://")).process_lock is None
    assert gate_for(create_engine("sqlite:///:memory:")).process_lock is None


def test_a_writer_that_cannot_open_the_lock_file_gives_its_slot_back(tmp_path: Path) -> None:
    gate = gate_for(make_engine(f"sqlite:///{tmp_path / 'gone.db'}"))
    assert gate.process_lock is not None
    path, gate.process_lock.path = gate.process_lock.path, tmp_path / "missing" / "x"
    with pytest.raises(FileNotFoundError):
        gate.acquire(Priority.ALERT, timeout=1)
    assert not gate.holds()
    gate.process_lock.path = path  # the file can be opened again: the slot is free
    gate.release(gate.acquire(Priority.PEOPLE, timeout=0.1))
