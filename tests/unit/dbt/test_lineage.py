"""Cosmos' OpenLineage parsing after dbt runs only where Airflow's OpenLineage provider would read it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from cosmos.operators.local import DbtBuildLocalOperator

from dango_provider.dbt import lineage
from dango_provider.dbt.lineage import skip_unread_lineage


def _task() -> DbtBuildLocalOperator:
    return DbtBuildLocalOperator(task_id="dbt_build", project_dir="/nonexistent", profile_config=None)


def test_without_the_openlineage_provider_no_lineage_is_parsed(monkeypatch):
    assert importlib.util.find_spec("airflow.providers.openlineage") is None, "the lock holds no OpenLineage provider"
    task = _task()
    skip_unread_lineage(task)
    assert task.calculate_openlineage_events_completes({}, Path("/nonexistent"), ["build"]) is False
    assert task.openlineage_events_completes == []


def test_with_the_openlineage_provider_cosmos_parses_as_it_does(monkeypatch):
    monkeypatch.setattr(lineage, "find_spec", lambda name: object())
    task = _task()
    skip_unread_lineage(task)
    assert task.calculate_openlineage_events_completes.__func__ is DbtBuildLocalOperator.calculate_openlineage_events_completes
