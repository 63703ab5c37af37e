"""Runs of one source that overlap (backfill runs, a backfill beside a scheduled run) share the
source's dlt working directory. Each run's extract therefore parks what it produced in a stash of
its own, and its load takes back exactly that:

- the normalized load packages, so a run loads its own data and never another run's;
- the dlt pipeline state the extract advanced (incremental cursors), committed only when the load
  commits, so a run that never loads does not move the cursor past data nobody loaded;
- for file sources, the pending file fingerprints, for the same reason.

Extracts and loads of one source take the source lock (a file lock beside its state), so only one of
them touches the working directory at a time. Nothing here opens the warehouse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dango_provider.core.lock import warehouse_lock

#: how long a run waits for another run of the same source to finish its extract or load
SOURCE_LOCK_TIMEOUT = 6 * 3600.0
_STATE_FILE = "state.json"


def run_key(run_id: str | None) -> str:
    """A directory name for an Airflow run id (``manual`` when run outside Airflow)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id or "manual")[:200]


@contextmanager
def source_lock(state_dir: Path, owner: str, timeout: float = SOURCE_LOCK_TIMEOUT) -> Iterator[float]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with warehouse_lock(state_dir / "pipeline.lock", timeout=timeout, owner=owner) as waited:
        yield waited


class RunStash:
    """The stash of one run of one source: ``<source state dir>/runs/<run key>/``."""

    def __init__(self, state_dir: Path, run_id: str | None):
        self.path = state_dir / "runs" / run_key(run_id)

    @property
    def packages_dir(self) -> Path:
        return self.path / "packages"

    def exists(self) -> bool:
        return self.packages_dir.is_dir() and any(self.packages_dir.iterdir())

    def park(self, working_dir: Path, state_before: bytes | None, fingerprints_pending: Path | None,
             existing: set[str]) -> None:
        """Move the packages the extract normalized (those not in ``existing``) into the stash, keep the
        state it advanced and put the working directory's state back as it was before the extract."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.packages_dir.mkdir(parents=True)
        for package in normalized_packages(working_dir):
            if package.name not in existing:
                os.replace(package, self.packages_dir / package.name)
        state_after = read_state(working_dir)
        if state_after is not None and state_after != state_before:
            (self.path / _STATE_FILE).write_bytes(state_after)
            (self.path / "state.base.json").write_bytes(state_before or b"{}")
            restore_state(working_dir, state_before)
        if fingerprints_pending is not None and fingerprints_pending.exists():
            os.replace(fingerprints_pending, self.path / "fingerprints.pending.json")

    def unpark(self, working_dir: Path) -> list[str]:
        """Put the run's packages back into the working directory for loading; return their load ids.

        The ids are written to ``loading.json`` first: when the load is killed, its packages stay in
        the working directory (partly loaded) and a retry of the same run resumes them.
        """
        normalized = working_dir / "load" / "normalized"
        normalized.mkdir(parents=True, exist_ok=True)
        ids = sorted(set(self.loading()) | {p.name for p in self._parked()})
        if not ids:
            return []
        (self.path / "loading.json").write_text(json.dumps(ids))
        for package in self._parked():
            os.replace(package, normalized / package.name)
        return [i for i in ids if (normalized / i).exists()]

    def loading(self) -> list[str]:
        marker = self.path / "loading.json"
        return json.loads(marker.read_text()) if marker.exists() else []

    def _parked(self) -> list[Path]:
        return sorted(self.packages_dir.iterdir()) if self.packages_dir.is_dir() else []

    def repark(self, working_dir: Path, load_ids: list[str]) -> None:
        """A load failed: move its packages that are still pending back, so a retry loads them again."""
        normalized = working_dir / "load" / "normalized"
        self.packages_dir.mkdir(parents=True, exist_ok=True)
        for load_id in load_ids:
            if (normalized / load_id).exists():
                os.replace(normalized / load_id, self.packages_dir / load_id)
        (self.path / "loading.json").unlink(missing_ok=True)

    def apply_state(self, working_dir: Path) -> bytes | None:
        """Before the load: merge the state the run's extract produced into the working state; return
        the working state as it was (to put back when the load fails).

        The run's cursors (``sources``) are taken when its extract moved them; schema names when the
        working state has none yet. Cursors another run committed meanwhile are kept otherwise.
        """
        previous = read_state(working_dir)
        mine_file = self.path / _STATE_FILE
        if not mine_file.exists():
            return previous
        mine = json.loads(mine_file.read_bytes())
        base = json.loads((self.path / "state.base.json").read_bytes()) if (self.path / "state.base.json").exists() else {}
        if previous is None:
            merged = mine
        else:
            merged = json.loads(previous)
            for key in ("default_schema_name", "schema_names", "dataset_name", "destination_name",
                        "destination_type"):
                if key in mine and not merged.get(key):
                    merged[key] = mine[key]
            if mine.get("sources") != base.get("sources"):
                merged["sources"] = mine.get("sources")
        restore_state(working_dir, json.dumps(merged).encode())
        return previous

    def commit(self, working_dir: Path, fingerprints_committed: Path | None) -> None:
        """The load committed: the run's fingerprints are committed and its stash removed."""
        pending = self.path / "fingerprints.pending.json"
        if fingerprints_committed is not None and pending.exists():
            os.replace(pending, fingerprints_committed)
        shutil.rmtree(self.path, ignore_errors=True)

    def describe(self) -> dict:
        ids = sorted(p.name for p in self.packages_dir.iterdir()) if self.packages_dir.is_dir() else []
        return {"stash": str(self.path), "packages": ids}


def normalized_packages(working_dir: Path) -> list[Path]:
    normalized = working_dir / "load" / "normalized"
    return sorted(p for p in normalized.iterdir() if p.is_dir()) if normalized.is_dir() else []


def claimed_packages(state_dir: Path) -> set[str]:
    """Packages a run is loading (or was loading when it was killed): never discarded by another run."""
    runs = state_dir / "runs"
    claimed: set[str] = set()
    for run in runs.iterdir() if runs.is_dir() else []:
        marker = run / "loading.json"
        if marker.exists():
            claimed |= set(json.loads(marker.read_text()))
    return claimed


def discard_unclaimed(working_dir: Path, state_dir: Path) -> None:
    """Drop what killed or failed extracts left in the working directory, except packages being loaded."""
    extracted = working_dir / "normalize" / "extracted"
    for package in extracted.iterdir() if extracted.is_dir() else []:
        shutil.rmtree(package, ignore_errors=True)
    claimed = claimed_packages(state_dir)
    for package in normalized_packages(working_dir):
        if package.name not in claimed:
            shutil.rmtree(package, ignore_errors=True)


def read_state(working_dir: Path) -> bytes | None:
    state = working_dir / _STATE_FILE
    return state.read_bytes() if state.exists() else None


def restore_state(working_dir: Path, content: bytes | None) -> None:
    """Put the dlt pipeline state file back to ``content`` (None: no state file)."""
    state_file = working_dir / _STATE_FILE
    if content is None:
        state_file.unlink(missing_ok=True)
        return
    tmp = state_file.with_name(state_file.name + ".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, state_file)


def pending_runs(state_dir: Path) -> list[str]:
    runs = state_dir / "runs"
    return sorted(p.name for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []

