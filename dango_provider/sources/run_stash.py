"""Runs of one source that overlap (backfill runs, a backfill beside a scheduled run) share the
source's dlt working directory. Each run's extract therefore parks what it produced in a stash of
its own, and its load takes back exactly that:

- the normalized load packages, so a run loads its own data and never another run's;
- the dlt pipeline state the extract advanced (incremental cursors), committed only when the load
  commits, so a run that never loads does not move the cursor past data nobody loaded;
- for file sources, the pending file fingerprints, for the same reason.

Extracts and loads of one source take the source lock (a file lock beside its state), so only one of
them touches the working directory at a time. Nothing here opens the warehouse.

On several workers the stash is also the hand-over: an extract may run in a working directory on its
worker's own disk (``[dango] work_dir``), starting from the committed state and schemas of the shared
working directory (``sync_working_dir``); it parks its packages and schemas in the stash, which lies in
the shared project, and the load, on whichever worker, loads them in the shared working directory. A
load killed with its worker leaves its packages there, and the retry on another worker loads them again
from their start (``sources.resume``).
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
_SCHEMAS = "schemas"


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
        return bool(self._parked())

    def park(self, working_dir: Path, state_before: bytes | None, fingerprints_pending: Path | None,
             existing: set[str]) -> None:
        """Move the packages the extract normalized (those not in ``existing``) into the stash, keep the
        state it advanced and put the working directory's state back as it was before the extract."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.packages_dir.mkdir(parents=True)
        for package in normalized_packages(working_dir):
            if package.name not in existing:
                _move_whole(package, self.packages_dir / package.name)
        schemas = working_dir / _SCHEMAS
        for schema in schemas.glob("*.schema.json") if schemas.is_dir() else []:
            _copy_whole(schema, self.path / _SCHEMAS / schema.name)
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
        the working directory (partly loaded) and a retry of the same run loads them again (``begun``).
        """
        normalized = working_dir / "load" / "normalized"
        # dlt's load folders (its normalize creates them; an extract on another worker did not run here)
        for folder in ("new", "normalized", "loaded"):
            (working_dir / "load" / folder).mkdir(parents=True, exist_ok=True)
        ids = sorted(set(self.loading()) | {p.name for p in self._parked()})
        if not ids:
            return []
        (self.path / "loading.json").write_text(json.dumps(ids))
        for package in self._parked():
            os.replace(package, normalized / package.name)
        return [i for i in ids if (normalized / i).exists()]

    def begun(self, working_dir: Path) -> list[str]:
        """Load ids of this run that an earlier attempt began loading (killed before it finished):
        still in the working directory's normalized packages. Call before ``unpark``."""
        normalized = working_dir / "load" / "normalized"
        return [i for i in self.loading() if (normalized / i).is_dir()]

    def loading(self) -> list[str]:
        marker = self.path / "loading.json"
        return json.loads(marker.read_text()) if marker.exists() else []

    def _parked(self) -> list[Path]:
        if not self.packages_dir.is_dir():
            return []
        return sorted(p for p in self.packages_dir.iterdir() if not p.name.startswith("."))

    def install_schemas(self, working_dir: Path) -> None:
        """Before the load: the schemas the run's extract evolved replace older versions in the working
        directory (an extract on another worker evolved them there, not here)."""
        for schema in sorted((self.path / _SCHEMAS).glob("*.schema.json")):
            target = working_dir / _SCHEMAS / schema.name
            if _schema_version(schema) >= _schema_version(target):
                _copy_whole(schema, target)

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
        return {"stash": str(self.path), "packages": [p.name for p in self._parked()]}


def sync_working_dir(shared: Path, local: Path) -> None:
    """Start an extract in a worker's own working directory from the committed pipeline state and
    schemas of the shared one (what the last load committed, whichever worker ran it)."""
    if local.resolve() == shared.resolve():
        return
    local.mkdir(parents=True, exist_ok=True)
    restore_state(local, read_state(shared))
    shutil.rmtree(local / _SCHEMAS, ignore_errors=True)
    for schema in sorted((shared / _SCHEMAS).glob("*.schema.json")):
        _copy_whole(schema, local / _SCHEMAS / schema.name)


def _schema_version(path: Path) -> int:
    try:
        return int(json.loads(path.read_bytes()).get("version", 0))
    except (OSError, ValueError):
        return -1


def _move_whole(source: Path, target: Path) -> None:
    """Move a directory, also to another file system, so that ``target`` appears complete or not at all."""
    try:
        os.replace(source, target)
    except OSError:  # another file system: copy under a hidden name, then rename
        partial = target.with_name("." + target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial)
        os.replace(partial, target)
        shutil.rmtree(source)


def _copy_whole(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name("." + target.name + ".partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


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

