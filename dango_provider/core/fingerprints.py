"""File fingerprints kept in provider state, so that unchanged files are not read again.

A fingerprint is the file's size and modification time: taking it costs one ``stat``, never a read.
Fingerprints move through two files: ``pending`` (written by extract) becomes ``committed`` only
after the warehouse load succeeded, so a failed load re-reads the same files next time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


class FingerprintStore:
    def __init__(self, state_dir: Path):
        self.dir = state_dir
        self.committed_path = state_dir / "fingerprints.json"
        self.pending_path = state_dir / "fingerprints.pending.json"

    def committed(self) -> dict[str, str]:
        return _read(self.committed_path)

    def write_pending(self, fingerprints: dict[str, str]) -> None:
        _write_atomic(self.pending_path, fingerprints)

    def commit_pending(self) -> None:
        if self.pending_path.exists():
            os.replace(self.pending_path, self.committed_path)

    def discard_pending(self) -> None:
        self.pending_path.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def _write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)
