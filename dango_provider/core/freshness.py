"""Freshness of sources: age of the last successful load against warn_after / error_after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dango_provider.core.governance_state import ready_info


@dataclass(frozen=True)
class SourceFreshness:
    source: str
    loaded_at: datetime | None
    age_seconds: float | None
    status: str  # fresh | warn | error

    def describe(self) -> str:
        if self.loaded_at is None or self.age_seconds is None:
            return f"source '{self.source}' has never loaded"
        hours = self.age_seconds / 3600
        return f"source '{self.source}' last loaded {self.loaded_at.isoformat(timespec='seconds')} ({hours:.1f} h ago)"


def last_loaded(state_dir: Path) -> datetime | None:
    info = ready_info(state_dir) or {}
    stamp = info.get("loaded_at") or info.get("ready_at")
    return datetime.fromisoformat(stamp) if stamp else None


def evaluate(state_dirs: dict[str, Path], thresholds: dict[str, tuple[float | None, float | None]],
             now: datetime | None = None) -> list[SourceFreshness]:
    """One result per source that has a threshold; ``thresholds``: source -> (warn, error) seconds."""
    now = now or datetime.now(UTC)
    results = []
    for source, (warn, error) in sorted(thresholds.items()):
        if warn is None and error is None:
            continue
        loaded = last_loaded(state_dirs[source])
        age = None if loaded is None else (now - loaded).total_seconds()
        if age is None or (error is not None and age > error):
            status = "error"
        elif warn is not None and age > warn:
            status = "warn"
        else:
            status = "fresh"
        results.append(SourceFreshness(source, loaded, age, status))
    return results
