"""Parts of ``scripts/stack.py`` the drills stand on, checked without a whole stack.

A Redis port taken between the pick and the start once cost the drills their stack
(redis did not start, and the log that said why went with the temp directory).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import stack_module


@pytest.fixture
def stack() -> Iterator[Any]:
    """A stack object with its directories and secrets, nothing started."""
    directory = Path(tempfile.mkdtemp(prefix="tgd-stack-part-"))
    stack = stack_module.Stack(directory, stack_module.Ports.free(2))
    for path in (stack.logs, stack.secrets, stack.data):
        path.mkdir(parents=True)
    stack._write_urls()
    yield stack
    for child in stack.children:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGTERM)
            child.wait(timeout=10)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def taken() -> Iterator[socket.socket]:
    """A port some other program listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener


def test_free_ports_are_all_different() -> None:
    ports = stack_module.Ports.free(4, http=8080)
    assert len(ports.all()) == 10 and ports.http == 8080


def test_redis_moves_off_a_port_taken_since_it_was_picked(stack: Any, taken: socket.socket) -> None:
    stack.ports.redis = taken.getsockname()[1]

    pid = stack._start_redis(may_move=True)

    assert stack.ports.redis != taken.getsockname()[1]
    assert stack._redis_ping()
    assert pid == stack.children[-1].pid
    assert f":{stack.ports.redis}/0" in (stack.secrets / "redis_url").read_text()


def test_redis_that_cannot_start_says_why(stack: Any, taken: socket.socket) -> None:
    stack.ports.redis = taken.getsockname()[1]

    with pytest.raises(RuntimeError, match="Address already in use"):
        stack._start_redis()  # after a drill: the TGD processes know this port, it stays

    assert all(child.poll() is not None for child in stack.children)
