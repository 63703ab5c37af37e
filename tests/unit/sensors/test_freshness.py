from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import TaskDeferred

from dango_provider.core.governance_state import mark_ready
from dango_provider.exceptions import FreshnessError
from dango_provider.sensors.freshness import FreshnessSensor
from dango_provider.triggers.freshness import FreshnessTrigger
from tests.unit.governance_project import make, state_dir


def sensor(project):
    return FreshnessSensor(task_id="freshness", project_dir=str(project), timeout=0, poke_interval=1)


def _loaded(project, source, hours_ago):
    mark_ready(state_dir(project, source),
               {"loaded_at": (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()})


def test_fresh_and_warn_pass(tmp_path, caplog):
    project = make(tmp_path)
    _loaded(project, "orders", 0.1)
    assert sensor(project).poke({}) is True
    _loaded(project, "orders", 1.5)
    assert sensor(project).poke({}) is True  # only a warning past warn_after


def test_stale_or_never_loaded_waits_through_the_trigger(tmp_path):
    project = make(tmp_path)
    assert sensor(project).poke({}) is False  # never loaded
    _loaded(project, "orders", 3)
    with pytest.raises(TaskDeferred) as info:
        sensor(project).execute({})
    assert isinstance(info.value.trigger, FreshnessTrigger)
    assert info.value.trigger.serialize()[1]["thresholds"] == {"orders": [3600.0, 7200.0], "customers": [None, None]}


def test_execute_complete_fails_naming_stale_sources(tmp_path):
    with pytest.raises(FreshnessError, match="stale sources: source 'orders' last loaded"):
        sensor(make(tmp_path)).execute_complete({}, {"status": "stale", "stale": ["source 'orders' last loaded x"]})


def test_before_any_source_loaded_the_gates_skip_saying_why(tmp_path):
    """The gates start beside sources_ready: with no source loaded there is nothing to build, and
    waiting for a first load would only fail the run later."""
    from airflow.sdk.exceptions import AirflowSkipException

    from dango_provider.sensors.schema_drift import SchemaDriftSensor

    project = make(tmp_path)
    drift = SchemaDriftSensor(task_id="schema_drift_gate", project_dir=str(project), timeout=0, poke_interval=1)
    for gate in (sensor(project), drift):
        with pytest.raises(AirflowSkipException, match=r"nothing to check: no source has loaded yet \(orders, customers\)"):
            gate.execute({})
    _loaded(project, "customers", 1)  # no thresholds of its own; orders never loaded: the freshness gate waits
    with pytest.raises(TaskDeferred):
        sensor(project).execute({})
    assert drift.execute({}) is None


def test_a_try_loads_the_project_once(tmp_path, monkeypatch):
    """The skip check, the poke and the trigger of one try read one loaded project."""
    import dango_provider.settings as settings

    project = make(tmp_path)
    _loaded(project, "orders", 3)
    loads = []
    real = settings.load_configured_project
    monkeypatch.setattr(settings, "load_configured_project", lambda *a, **k: loads.append(a) or real(*a, **k))
    with pytest.raises(TaskDeferred):
        sensor(project).execute({})
    assert len(loads) == 1
