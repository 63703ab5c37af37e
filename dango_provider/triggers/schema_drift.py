"""Trigger that waits until no source is blocked by an unaccepted breaking schema change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from dango_provider.core.governance_state import blocked_sources


class SchemaDriftTrigger(BaseTrigger):
    """Poll the sources' drift state files (never the warehouse) until none is blocked or ``deadline``.

    :param state_dirs: source name -> its state directory
    :param deadline: ISO timestamp after which the trigger reports the changes still blocked
    :param poll_interval: seconds between polls
    """

    def __init__(self, *, state_dirs: dict[str, str], deadline: str, poll_interval: float = 30.0):
        super().__init__()
        self.state_dirs = state_dirs
        self.deadline = deadline
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "dango_provider.triggers.schema_drift.SchemaDriftTrigger",
            {"state_dirs": self.state_dirs, "deadline": self.deadline, "poll_interval": self.poll_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        dirs = {name: Path(path) for name, path in self.state_dirs.items()}
        deadline = datetime.fromisoformat(self.deadline)
        while True:
            blocked = blocked_sources(dirs)
            if not blocked:
                yield TriggerEvent({"status": "released"})
                return
            if datetime.now(UTC) >= deadline:
                yield TriggerEvent({"status": "timeout", "blocked": blocked})
                return
            await asyncio.sleep(self.poll_interval)
