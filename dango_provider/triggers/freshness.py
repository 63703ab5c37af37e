"""Trigger that waits until no source is older than its error_after threshold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from dango_provider.core.freshness import evaluate


class FreshnessTrigger(BaseTrigger):
    """Poll the sources' state files until every source is within error_after, or ``deadline``.

    :param state_dirs: source name -> its state directory
    :param thresholds: source name -> [warn_after seconds or None, error_after seconds or None]
    :param deadline: ISO timestamp after which the stale sources are reported
    :param poll_interval: seconds between polls
    """

    def __init__(self, *, state_dirs: dict[str, str], thresholds: dict[str, list], deadline: str,
                 poll_interval: float = 60.0):
        super().__init__()
        self.state_dirs = state_dirs
        self.thresholds = thresholds
        self.deadline = deadline
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "dango_provider.triggers.freshness.FreshnessTrigger",
            {"state_dirs": self.state_dirs, "thresholds": self.thresholds, "deadline": self.deadline,
             "poll_interval": self.poll_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        dirs = {name: Path(path) for name, path in self.state_dirs.items()}
        thresholds = {name: (pair[0], pair[1]) for name, pair in self.thresholds.items()}
        deadline = datetime.fromisoformat(self.deadline)
        while True:
            stale = [r for r in evaluate(dirs, thresholds) if r.status == "error"]
            if not stale:
                yield TriggerEvent({"status": "fresh"})
                return
            if datetime.now(UTC) >= deadline:
                yield TriggerEvent({"status": "stale", "stale": [r.describe() for r in stale]})
                return
            await asyncio.sleep(self.poll_interval)
