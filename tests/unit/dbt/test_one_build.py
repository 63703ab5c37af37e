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
    publish_after_building,
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
    state = tmp_path / ".dango" / "state"
    record(state, "run1", {"results": results or [result("model.p.mart", "success"),
                                                   result("test.p.mart_ok", "pass")]}, task_id="dbt_build")
    dag = SimpleNamespace(tasks=[SimpleNamespace(task_id=u, extra_context={"dbt_node_config": {"unique_id": u}})
                                 for u in RENDERED])
    task = Task(extra_context={"dbt_node_config": {"unique_id": node, "name": node.rsplit(".", 1)[1]}},
                project_dir=str(tmp_path), callback_args={"project_root": str(tmp_path)}, built=False,
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


def test_a_retry_or_a_node_the_build_did_not_reach_builds_itself_and_publishes_only_a_clean_run(tmp_path):
    failing = [result("model.p.mart", "success"), result("test.p.both", "fail", "Got 1 result")]
    for try_number, node in ((2, "model.p.mart"), (1, "model.p.other")):  # a retry; a node the build missed
        task, context = _setup(tmp_path, try_number=try_number, node=node, results=failing)
        logged: list[str] = []
        task.log.warning = lambda message, *args: logged.append(message % args)
        report_instead_of_building(context)
        task.build_and_run_cmd(context=context, cmd_flags=[])
        assert task.built is True
        assert len(logged) == 1 and logged[0].startswith(
            "not published: 1 node(s) of this run failed or were skipped after a failure (test both: fail)")
        assert not (tmp_path / "data" / "serving").exists()


def test_a_rebuilt_node_publishes_the_serving_copy_once_no_node_of_the_run_failed(tmp_path):
    import duckdb

    from tests.conftest import make_small_project

    root = make_small_project(tmp_path / "project", 'version: "1.0"\nsources: []\n', {})
    task, context = _setup(root, try_number=2)
    (root / "data").mkdir(exist_ok=True)
    with duckdb.connect(str(root / "data" / "warehouse.duckdb")) as con:
        con.execute("create table mart as select 42 as answer")
    task.dag_id, task.task_id = "dango_transform", "dbt.mart_model_build"
    report_instead_of_building(context)
    task.build_and_run_cmd(context=context, cmd_flags=[])
    with duckdb.connect(str(root / "data" / "serving" / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("select answer from mart").fetchone() == (42,)


def test_the_build_publishes_what_it_built_unless_a_node_of_the_run_failed(tmp_path):
    import duckdb

    from tests.conftest import make_small_project

    root = make_small_project(tmp_path / "project", 'version: "1.0"\nsources: []\n', {})
    (root / "data").mkdir(exist_ok=True)
    with duckdb.connect(str(root / "data" / "warehouse.duckdb")) as con:
        con.execute("create table mart as select 42 as answer")
    serving = root / "data" / "serving" / "warehouse.duckdb"
    failing = [result("model.p.mart", "success"), result("test.p.mart_ok", "fail", "Got 2 results")]
    build, context = _failing_build(root, failing)
    publish_after_building(context)
    build.build_and_run_cmd(context=context, cmd_flags=[])  # tolerated: the mart's task fails instead
    assert not serving.exists()
    build, context = _setup(root)
    build.dag_id, build.task_id, build.extra_context = "dango_transform", "dbt_build", {}
    publish_after_building(context)
    build.build_and_run_cmd(context=context, cmd_flags=[])
    assert build.built is True
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.sql("select answer from mart").fetchone() == (42,)


def _failing_build(tmp_path, results):
    build, context = _setup(tmp_path, results=results)
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


def test_a_failure_whose_task_is_not_in_the_run_fails_the_build(tmp_path):
    """A run created before the manifest listed the mart has no task for it (the DAG parsed in the task's
    process has): nothing would report the failure, so the build fails."""
    build, context = _failing_build(tmp_path, [result("model.p.mart", "success"), result("test.p.mart_ok", "fail")])
    tasks = ["dbt_build", "model.p.other"]
    context["ti"] = SimpleNamespace(try_number=1, dag_id="dango_transform",
                                    get_task_states=lambda dag_id, run_ids: {"run1": dict.fromkeys(tasks, None)})
    with pytest.raises(RuntimeError, match="dbt failed"):
        build.build_and_run_cmd(context=context, cmd_flags=[])
    tasks.append("model.p.mart")
    build.build_and_run_cmd(context=context, cmd_flags=[])  # the mart's task fails instead
