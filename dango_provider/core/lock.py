"""An exclusive, bounded-wait file lock beside the warehouse: the second guard after the Airflow pool.

``airflow dags test`` and ad-hoc scripts ignore pools, so every warehouse writer also takes this lock.
It is an ``flock``: the kernel releases it when the holding process dies, so a killed task never leaves
a lock that blocks the next writer. The holder writes who it is into the lock file so that a waiter
that times out can name it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from dango_provider.exceptions import WarehouseLockTimeout

POLL_SECONDS = 0.2


def describe_holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text() or "{}")
    except (OSError, ValueError):
        return "an unknown process"
    if not info:
        return "an unknown process"
    who = info.get("owner") or "a process"
    return f"{who} (pid {info.get('pid')} on {info.get('host')}, holding since {info.get('since')})"


@contextmanager
def warehouse_lock(lock_path: Path, *, timeout: float, owner: str) -> Iterator[float]:
    """Hold the lock at ``lock_path``; yield the seconds waited. Raise WarehouseLockTimeout after ``timeout``."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    started = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= timeout:
                    raise WarehouseLockTimeout(
                        f"could not lock the warehouse within {timeout:g}s: '{lock_path}' is held by "
                        f"{describe_holder(lock_path)}; it is released when that task finishes or its process dies"
                    ) from None
                time.sleep(min(POLL_SECONDS, max(timeout - waited, 0.01)))
        info = {
            "owner": owner,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield time.monotonic() - started
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
