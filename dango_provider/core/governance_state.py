"""Governance state kept beside the project, readable without opening the warehouse.

DuckDB lets one process write or many read, never both: a sensor or trigger that polled the
warehouse would make a concurrent load fail. Decisions that waiting tasks need (a source blocked
by schema drift, the columns to mask, when a source last loaded) therefore live in small JSON files
under ``.dango/state/sources/<source>/``; ``dango_meta`` keeps the full history.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from dango_provider.core.times import parse_utc

DRIFT_BLOCKED = "drift_blocked.json"
DRIFT_ACCEPTED = "drift_accepted.json"
PII = "pii.json"
READY = "staging_ready.json"
BUILT = "built.json"
FAILURE = "last_failure.json"
TRANSFORM_SCOPE = "last_scope.json"


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)


def block_for_drift(state_dir: Path, changes: list[dict], pending_schema: dict) -> None:
    _write(state_dir / DRIFT_BLOCKED, {"changes": changes, "pending_schema": pending_schema,
                                       "detected_at": datetime.now(UTC).isoformat()})


def drift_blocked(state_dir: Path) -> list[dict] | None:
    """The breaking changes waiting for acceptance, or None when the source is not blocked."""
    data = _read(state_dir / DRIFT_BLOCKED)
    return None if data is None else data["changes"]


def pending_schema(state_dir: Path) -> dict | None:
    data = _read(state_dir / DRIFT_BLOCKED)
    return None if data is None else data["pending_schema"]


def release_drift(state_dir: Path, accepted_by: str | None = None) -> None:
    """Unblock the source; with ``accepted_by``, record who accepted its changes and when (the transform's
    drift gate logs it)."""
    changes = drift_blocked(state_dir)
    if accepted_by is not None and changes is not None:
        _write(state_dir / DRIFT_ACCEPTED, {"accepted_by": accepted_by, "accepted_at": datetime.now(UTC).isoformat(),
                                           "changes": changes})
    (state_dir / DRIFT_BLOCKED).unlink(missing_ok=True)


def acceptances_since(state_dirs: dict[str, Path], since: datetime | None) -> dict[str, dict]:
    """{source: its last acceptance (accepted_by, accepted_at, changes)} for acceptances after ``since``."""
    out = {}
    for name, state_dir in state_dirs.items():
        record = _read(state_dir / DRIFT_ACCEPTED)
        accepted_at = parse_utc(record.get("accepted_at")) if record else None
        if record is not None and (since is None or (accepted_at is not None and accepted_at > since)):
            out[name] = record
    return out


def blocked_sources(state_dirs: dict[str, Path]) -> dict[str, list[dict]]:
    """{source: pending breaking changes} for every blocked source among ``state_dirs``."""
    out = {}
    for name, state_dir in state_dirs.items():
        changes = drift_blocked(state_dir)
        if changes is not None:
            out[name] = changes
    return out


def write_pii(state_dir: Path, data: dict) -> None:
    _write(state_dir / PII, data)


def read_pii(state_dir: Path) -> dict:
    return _read(state_dir / PII) or {"scanned": {}, "masks": {}}


def mark_ready(state_dir: Path, info: dict) -> None:
    """Record that a source loaded and its staging models exist (with the time of that load)."""
    _write(state_dir / READY, {**info, "ready_at": datetime.now(UTC).isoformat()})


def ready_info(state_dir: Path) -> dict | None:
    return _read(state_dir / READY)


def is_ready(state_dir: Path) -> bool:
    return (state_dir / READY).exists()


def mark_built(state_dir: Path, ready_at: str) -> None:
    """Record that a transform built and published the source's load that was ready at ``ready_at``."""
    _write(state_dir / BUILT, {"ready_at": ready_at, "built_at": datetime.now(UTC).isoformat()})


def built_ready_at(state_dir: Path) -> str | None:
    """The ``ready_at`` of the source's load a transform last built and published (None: never)."""
    return (_read(state_dir / BUILT) or {}).get("ready_at")


def record_failure(state_dir: Path, info: dict) -> None:
    """Record the source's last failed task (first line of the error, task, run, log), until a load succeeds."""
    _write(state_dir / FAILURE, {**info, "failed_at": datetime.now(UTC).isoformat()})


def last_failure(state_dir: Path) -> dict | None:
    return _read(state_dir / FAILURE)


def clear_failure(state_dir: Path) -> None:
    (state_dir / FAILURE).unlink(missing_ok=True)


def current_failure(failure: dict | None, last_load_at: datetime | None) -> dict | None:
    """The recorded failure when it is newer than the last load (a failure whose time is unknown counts)."""
    if not failure:
        return None
    failed_at = parse_utc(failure.get("failed_at"))
    return failure if last_load_at is None or failed_at is None or failed_at >= last_load_at else None


def write_transform_scope(state_root: Path, scope: dict) -> None:
    """What the last ``dango_transform`` run built and left out (read by the overview)."""
    _write(state_root / "transform" / TRANSFORM_SCOPE, {**scope, "decided_at": datetime.now(UTC).isoformat()})


def transform_scope(state_root: Path) -> dict | None:
    return _read(state_root / "transform" / TRANSFORM_SCOPE)


def describe_changes(changes: list[dict]) -> str:
    return "; ".join(c.get("detail") or f"{c.get('table')}.{c.get('column')}: {c.get('kind')}" for c in changes)
