from __future__ import annotations

import pytest
from airflow.sdk.exceptions import TaskDeferred

from dango_provider.core.governance_state import block_for_drift, mark_ready, release_drift
from dango_provider.exceptions import SchemaDriftError
from dango_provider.sensors.schema_drift import SchemaDriftSensor
from dango_provider.triggers.schema_drift import SchemaDriftTrigger
from tests.unit.governance_project import make, state_dir

CHANGE = {"table": "orders", "column": "note", "kind": "column_removed", "change_class": "breaking",
          "detail": "Column 'orders.note' was removed."}


def sensor(project, **kw):
    return SchemaDriftSensor(task_id="gate", project_dir=str(project), timeout=0, poke_interval=1, **kw)


def test_poke_is_true_without_blocked_sources(tmp_path):
    assert sensor(make(tmp_path)).poke({}) is True


def test_poke_is_false_while_a_source_is_blocked_and_true_once_released(tmp_path):
    project = make(tmp_path)
    block_for_drift(state_dir(project, "orders"), [CHANGE], {"format": 1, "tables": {}})
    assert sensor(project).poke({}) is False
    release_drift(state_dir(project, "orders"))
    assert sensor(project).poke({}) is True


def loaded(project):
    mark_ready(state_dir(project, "orders"), {"loaded_at": "2026-12-05T00:00:00+00:00"})
    return project


def test_execute_defers_to_the_trigger_when_blocked(tmp_path):
    project = loaded(make(tmp_path))
    block_for_drift(state_dir(project, "orders"), [CHANGE], {"format": 1, "tables": {}})
    with pytest.raises(TaskDeferred) as info:
        sensor(project).execute({})
    trigger = info.value.trigger
    assert isinstance(trigger, SchemaDriftTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "dango_provider.triggers.schema_drift.SchemaDriftTrigger"
    assert kwargs["state_dirs"] == {"orders": str(state_dir(project, "orders")),
                                    "customers": str(state_dir(project, "customers"))}
    assert kwargs["poll_interval"] == 1


def test_execute_returns_at_once_when_nothing_is_blocked(tmp_path):
    assert sensor(loaded(make(tmp_path))).execute({}) is None


def test_execute_complete_fails_listing_the_changes(tmp_path):
    with pytest.raises(SchemaDriftError) as info:
        sensor(make(tmp_path)).execute_complete({}, {"status": "timeout", "blocked": {"orders": [CHANGE]}})
    assert str(info.value) == (
        "breaking schema changes were not accepted in time (source 'orders': Column 'orders.note' was removed.); "
        "accept them with `dango drift accept <source>` and run the transform again"
    )
    assert sensor(make(tmp_path / "other")).execute_complete({}, {"status": "released"}) is None


def test_a_release_logs_who_accepted_which_changes_since_the_last_good_run(tmp_path, capsys):
    from datetime import UTC, datetime, timedelta

    project = make(tmp_path)
    block_for_drift(state_dir(project, "orders"), [CHANGE], {"format": 1, "tables": {}})
    release_drift(state_dir(project, "orders"), accepted_by="ana")
    gate = sensor(project)  # Airflow's task loggers write to stdout
    capsys.readouterr()
    assert gate.poke({"prev_start_date_success": datetime.now(UTC) - timedelta(hours=1)}) is True
    logged = capsys.readouterr().out
    assert "source 'orders': schema changes accepted by ana at " in logged
    assert "Column 'orders.note' was removed." in logged
    # reported once: a run after the one that passed with it does not repeat it
    gate.poke({"prev_start_date_success": datetime.now(UTC) + timedelta(seconds=1)})
    assert "accepted by" not in capsys.readouterr().out
