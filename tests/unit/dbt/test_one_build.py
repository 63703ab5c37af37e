"""Node tasks report what the run's one ``dbt build`` did with their node: which results a task answers
for, a failure raised with dbt's message, a retry that builds instead, and the build failing only for
failures no task reports."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from cosmos.dbt.runner import parse_number_of_warnings

from dango_provider.core.transform_results import record
from dango_provider.dbt.one_build import (
    owners,
    remember_run_results,
    report_instead_of_building,
    tolerate_reported_failures,
)

MANIFEST = {"nodes": {
    "model.p.stg": {"resource_type": "model", "depends_on": {"nodes": []}},
    "model.p.mart": {"resource_type": "model", "depends_on": {"nodes": ["model.p.stg"]}},
    "model.p.other": {"resource_type": "model", "depends_on": {"nodes": ["model.p.stg"]}},
    "test.p.mart_ok": {"resource_type": "test", "depends_on": {"nodes": ["model.p.mart"]}},
    "test.p.stg_ok": {"resource_type": "test", "depends_on": {"nodes": ["model.p.stg"]}},
    "test.p.both": {"resource_type": "test", "depends_on": {"nodes": ["model.p.mart", "model.p.other"]}},
}}
RENDERED = {"model.p.mart", "model.p.other", "test.p.both"}


def test_a_test_without_a_task_is_reported_by_the_rendered_nodes_it_tests():
    found = owners(MANIFEST, RENDERED)
    assert found["test.p.mart_ok"] == {"model.p.mart"}
    assert found["test.p.both"] == {"test.p.both"}, "a test with a task of its own reports itself"
    assert "test.p.stg_ok" not in found and "model.p.stg" not in found, "staging: the build answers for it"


def result(unique_id: str, status: str, message: str | None = None) -> dict:
    return {"unique_id": unique_id, "status": status, "execution_time": 0.1, "message": message}


class Task(SimpleNamespace):
    def build_and_run_cmd(self, **_):
        self.built = True


def _setup(tmp_path, try_number: int = 1, node: str = "model.p.mart", results=None):
    (tmp_path / "target").mkdir(exist_ok=True)
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(MANIFEST))
    state = tmp_path / "state"
    record(state, "run1", {"results": results or [result("model.p.mart", "success"),
                                                   result("test.p.mart_ok", "pass")]}, task_id="dbt_build")
    dag = SimpleNamespace(tasks=[SimpleNamespace(extra_context={"dbt_node_config": {"unique_id": u}})
                                 for u in RENDERED])
    task = Task(extra_context={"dbt_node_config": {"unique_id": node, "name": node.rsplit(".", 1)[1]}},
                project_dir=str(tmp_path), callback_args={"state_root": str(state)}, built=False,
                log=SimpleNamespace(info=lambda *a: None, warning=lambda *a: None))
    return task, {"task": task, "ti": SimpleNamespace(try_number=try_number), "run_id": "run1", "dag": dag}


def test_a_node_the_build_built_is_reported_not_built_again(tmp_path):
    task, context = _setup(tmp_path)
    report_instead_of_building(context)
    outcome = task.build_and_run_cmd(context=context, cmd_flags=[])
    assert task.built is False
    # Cosmos' test operators count warnings on what the invocation returned
    assert parse_number_of_warnings(outcome) == 0


def test_a_failed_test_of_the_node_fails_its_task_with_dbts_message(tmp_path):
    task, context = _setup(tmp_path, results=[result("model.p.mart", "success"),
                                              result("test.p.mart_ok", "fail", "Got 2 results")])
    report_instead_of_building(context)
    with pytest.raises(RuntimeError, match="test.p.mart_ok|mart_ok: fail, 0.1 s: Got 2 results"):
        task.build_and_run_cmd(context=context, cmd_flags=[])


def test_a_retry_or_a_node_the_build_did_not_reach_builds_itself(tmp_path):
    task, context = _setup(tmp_path, try_number=2)
    report_instead_of_building(context)
    task.build_and_run_cmd(context=context, cmd_flags=[])
    assert task.built is True
    task, context = _setup(tmp_path, node="model.p.other")
    report_instead_of_building(context)
    task.build_and_run_cmd(context=context, cmd_flags=[])
    assert task.built is True


def _failing_build(tmp_path, results):
    build, context = _setup(tmp_path)
    build.extra_context = {}

    def dbt(**_):
        remember_run_results(build, {"results": results})
        raise RuntimeError("dbt failed")

    build.build_and_run_cmd = dbt
    tolerate_reported_failures(context)
    return build, context


def test_the_build_fails_only_for_a_failure_no_task_reports(tmp_path):
    build, context = _failing_build(tmp_path, [result("model.p.mart", "success"), result("test.p.mart_ok", "fail")])
    build.build_and_run_cmd(context=context, cmd_flags=[])  # the mart's task fails instead
    build, context = _failing_build(tmp_path, [result("model.p.stg", "error"), result("model.p.mart", "skipped")])
    with pytest.raises(RuntimeError, match="dbt failed"):
        build.build_and_run_cmd(context=context, cmd_flags=[])
    build, context = _failing_build(tmp_path, [])  # dbt ran no node (a compilation error)
    with pytest.raises(RuntimeError, match="dbt failed"):
        build.build_and_run_cmd(context=context, cmd_flags=[])
