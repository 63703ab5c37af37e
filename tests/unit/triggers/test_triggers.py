from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from dango_provider.core.governance_state import block_for_drift, mark_ready, release_drift
from dango_provider.triggers.freshness import FreshnessTrigger
from dango_provider.triggers.schema_drift import SchemaDriftTrigger

CHANGE = {"table": "t", "column": "c", "kind": "column_removed", "change_class": "breaking", "detail": "gone"}


async def _first_event(trigger):
    async for event in trigger.run():
        return event.payload


def test_schema_drift_trigger_serializes_plain_kwargs(tmp_path):
    trigger = SchemaDriftTrigger(state_dirs={"a": str(tmp_path)}, deadline="2030-01-01T00:00:00+00:00",
                                 poll_interval=5)
    assert trigger.serialize() == (
        "dango_provider.triggers.schema_drift.SchemaDriftTrigger",
        {"state_dirs": {"a": str(tmp_path)}, "deadline": "2030-01-01T00:00:00+00:00", "poll_interval": 5},
    )


def test_schema_drift_trigger_fires_when_released(tmp_path):
    block_for_drift(tmp_path, [CHANGE], {})
    deadline = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    trigger = SchemaDriftTrigger(state_dirs={"a": str(tmp_path)}, deadline=deadline, poll_interval=0.05)

    async def scenario():
        task = asyncio.ensure_future(_first_event(trigger))
        await asyncio.sleep(0.2)
        assert not task.done()
        release_drift(tmp_path)
        return await asyncio.wait_for(task, 5)

    assert asyncio.run(scenario()) == {"status": "released"}


def test_schema_drift_trigger_reports_changes_at_the_deadline(tmp_path):
    block_for_drift(tmp_path, [CHANGE], {})
    trigger = SchemaDriftTrigger(state_dirs={"a": str(tmp_path)},
                                 deadline=datetime.now(UTC).isoformat(), poll_interval=0.05)
    assert asyncio.run(_first_event(trigger)) == {"status": "timeout", "blocked": {"a": [CHANGE]}}


def test_freshness_trigger_reports_stale_then_fresh(tmp_path):
    old = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    mark_ready(tmp_path, {"loaded_at": old})
    stale = FreshnessTrigger(state_dirs={"a": str(tmp_path)}, thresholds={"a": [3600, 7200]},
                             deadline=datetime.now(UTC).isoformat(), poll_interval=0.05)
    event = asyncio.run(_first_event(stale))
    assert event["status"] == "stale"
    assert event["stale"][0].startswith(f"source 'a' last loaded {old[:19]}")
    mark_ready(tmp_path, {"loaded_at": datetime.now(UTC).isoformat()})
    assert asyncio.run(_first_event(stale)) == {"status": "fresh"}
    assert stale.serialize()[0] == "dango_provider.triggers.freshness.FreshnessTrigger"
