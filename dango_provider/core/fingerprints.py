"""File identity kept in provider state, so that a file is read again exactly when its content changed.

A file is identified by a digest of its bytes (BLAKE2b): a renamed or copied file whose content was
loaded before is not new data, and an edit is never missed, even one whose modification time was put
back (``cp -p``, ``rsync -t``, archive extraction). Hashing costs one read of the file, so it is done
only when the file's stat key changed: size, modification time, inode change time (which no tool can
put back) and inode number. Unchanged files cost one ``stat``.

Identities move through two files: ``pending`` (written by extract) becomes ``committed`` only
after the warehouse load succeeded, so a failed load re-reads the same files next time.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path


def stat_key(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"


def content_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


@dataclass(frozen=True)
class Identified:
    """The files of a source now: path -> {"stat", "digest"}, and how many were read to hash them."""

    entries: dict[str, dict[str, str]]
    hashed: int
    hashed_bytes: int


def identify(files: dict[str, Path], committed: dict[str, dict | str]) -> Identified:
    """The identity of each file (label -> path); a file whose stat key matches its committed entry
    keeps that entry's digest without being read."""
    entries: dict[str, dict[str, str]] = {}
    hashed = hashed_bytes = 0
    for label, path in files.items():
        key = stat_key(path)
        old = committed.get(label)
        if isinstance(old, dict) and old.get("stat") == key and old.get("digest"):
            entries[label] = old
            continue
        entries[label] = {"stat": key, "digest": content_digest(path)}
        hashed += 1
        hashed_bytes += int(key.split(":", 1)[0])
    return Identified(entries, hashed, hashed_bytes)


def loaded_digests(committed: dict[str, dict | str]) -> dict[str, str]:
    """Digest -> the file it was loaded from, for the committed entries."""
    return {entry["digest"]: label for label, entry in sorted(committed.items())
            if isinstance(entry, dict) and entry.get("digest")}


class FingerprintStore:
    def __init__(self, state_dir: Path):
        self.dir = state_dir
        self.committed_path = state_dir / "fingerprints.json"
        self.pending_path = state_dir / "fingerprints.pending.json"

    def committed(self) -> dict:
        return _read(self.committed_path)

    def write_pending(self, fingerprints: dict) -> None:
        _write_atomic(self.pending_path, fingerprints)

    def commit_pending(self) -> None:
        if self.pending_path.exists():
            os.replace(self.pending_path, self.committed_path)

    def discard_pending(self) -> None:
        self.pending_path.unlink(missing_ok=True)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def _write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)
