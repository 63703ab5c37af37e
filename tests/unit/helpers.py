"""Helpers shared by the unit tests (imported as ``tests.unit.helpers``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "dango_provider"
DANGO = Path(sys.executable).parent / "dango"


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based number of the ``occurrence``-th line of ``text`` that contains ``needle``."""
    hits = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} occurs {len(hits)} time(s) in the text"
    return hits[occurrence - 1]


def run_dango(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed ``dango`` console script: a real process with a real exit code."""
    assert DANGO.is_file(), f"console script not installed at {DANGO}"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(DANGO), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
