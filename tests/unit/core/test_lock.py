"""The warehouse file lock, held by real processes: waiting, bounded timeout naming the holder, dead holders."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dango_provider.core.lock import describe_holder, warehouse_lock
from dango_provider.exceptions import DangoError, WarehouseLockTimeout
from tests.unit.helpers import REPO

# A holder in its own process: takes the lock, says so, keeps it until stdin closes or hold seconds pass.
HOLDER = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from dango_provider.core.lock import warehouse_lock

    path, owner, hold = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    with warehouse_lock(path, timeout=30, owner=owner):
        print("locked", flush=True)
        if hold > 0:
            time.sleep(hold)
        else:
            sys.stdin.read()
    print("released", flush=True)
""")


class Holder:
    """A python process holding the lock (``hold`` seconds, or until ``release()`` when hold is 0)."""

    def __init__(self, lock_path: Path, owner: str, hold: float = 0):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(lock_path), owner, str(hold)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        line = self.proc.stdout.readline()
        assert line == "locked\n", f"holder did not lock: {line!r} {self.proc.stderr.read() if not line else ''}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self) -> str:
        out, _ = self.proc.communicate(input="", timeout=30)
        assert self.proc.returncode == 0
        return out

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def lock_path(tmp_path) -> Path:
    return tmp_path / "data" / "warehouse.duckdb.lock"


@pytest.fixture
def holders():
    started: list[Holder] = []

    def start(*args, **kwargs) -> Holder:
        holder = Holder(*args, **kwargs)
        started.append(holder)
        return holder

    yield start
    for holder in started:
        holder.close()


def test_uncontended_lock_records_the_holder_and_clears_on_release(lock_path):
    with warehouse_lock(lock_path, timeout=1, owner="dango_ingest__orders.load") as waited:
        assert 0 <= waited < 1
        info = json.loads(lock_path.read_text())
        assert info["owner"] == "dango_ingest__orders.load"
        assert info["pid"] == os.getpid()
        assert info["host"] == socket.gethostname()
        assert describe_holder(lock_path).startswith(f"dango_ingest__orders.load (pid {os.getpid()} on ")
    assert lock_path.read_text() == ""
    assert describe_holder(lock_path) == "an unknown process"


def test_second_process_waits_then_gets_the_lock(lock_path, holders):
    holder = holders(lock_path, "first.writer", hold=1.5)
    started = time.monotonic()

    with warehouse_lock(lock_path, timeout=30, owner="second.writer") as waited:
        elapsed = time.monotonic() - started
        assert json.loads(lock_path.read_text())["owner"] == "second.writer"

    assert holder.proc.wait(timeout=30) == 0
    assert holder.proc.stdout.read() == "released\n"
    # it waited for the holder (which slept 1.5 s after locking) and no longer than needed
    assert 1.0 <= waited <= elapsed < 10


def test_timeout_names_the_holder(lock_path, holders):
    holder = holders(lock_path, "dango_ingest__orders.load", hold=0)
    started = time.monotonic()

    with pytest.raises(WarehouseLockTimeout) as info:
        with warehouse_lock(lock_path, timeout=0.6, owner="dango_transform.dbt"):
            pytest.fail("the lock was acquired while another process holds it")

    elapsed = time.monotonic() - started
    message = str(info.value)
    assert isinstance(info.value, DangoError)
    assert message.startswith(
        f"could not lock the warehouse within 0.6s: '{lock_path}' is held by "
        f"dango_ingest__orders.load (pid {holder.pid} on {socket.gethostname()}, holding since "
    )
    assert message.endswith("); it is released when that task finishes or its process dies")
    assert 0.6 <= elapsed < 5
    assert holder.release() == "released\n"
    # once released, the lock is free at once
    with warehouse_lock(lock_path, timeout=0, owner="after") as waited:
        assert waited < 0.5


def test_killed_holder_does_not_block_the_next_writer(lock_path, holders):
    holder = holders(lock_path, "doomed.task", hold=0)
    assert json.loads(lock_path.read_text())["pid"] == holder.pid
    holder.kill()

    with warehouse_lock(lock_path, timeout=2, owner="next.task") as waited:
        assert waited < 1
        info = json.loads(lock_path.read_text())
        assert (info["owner"], info["pid"]) == ("next.task", os.getpid())


def test_lock_is_exclusive_between_two_waiters(lock_path, holders):
    first = holders(lock_path, "one", hold=0)
    with pytest.raises(WarehouseLockTimeout, match=r"is held by one \(pid "):
        with warehouse_lock(lock_path, timeout=0.3, owner="two"):
            pass
    first.release()
    second = holders(lock_path, "two", hold=0)
    with pytest.raises(WarehouseLockTimeout, match=rf"is held by two \(pid {second.pid} "):
        with warehouse_lock(lock_path, timeout=0.3, owner="three"):
            pass
    second.release()
