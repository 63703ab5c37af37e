"""One ``dbt build`` per transform run, reported by the node tasks Cosmos renders.

``dbt_build`` builds everything the run builds in one dbt invocation (one project load, dbt's own
parallelism and ordering) and records each node's result in the run's record. Each rendered node task then
reports its node instead of building it again: its model, seed or snapshot and the tests it owns (those on
it that have no task of their own), with dbt's message when one failed. A node the build did not reach
(rendered from a newer manifest, say) and every retry or cleared task (try 2 and later) build the node in
the task itself, as before. ``dbt_build`` publishes the serving copy when no node of the run failed, and a
node task that built its node publishes it again on the same condition: the node tasks run after the build,
off the path from the build to the published data.
``dbt_build`` fails only for a failure no task of the run reports (a staging model, a test without a task,
a node the run has no task for): every failed node fails a task, and the run.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dango_provider.core.transform_results import FAILED, run_nodes

BUILD_TASK = "dbt_build"
_RESULTS = "_dango_run_results"


def _ran_nothing() -> Any:
    """What a Cosmos operator's ``execute`` reads from a dbt invocation (warnings are counted on its
    results), for a task that ran none: no results."""
    return SimpleNamespace(success=True, result=SimpleNamespace(results=[]), full_output="", exception=None)


def node_of(task: Any) -> dict | None:
    """The dbt node a rendered task stands for (Cosmos' ``dbt_node_config``), None for other tasks."""
    return (getattr(task, "extra_context", None) or {}).get("dbt_node_config")


def rendered_nodes(dag: Any, in_run: set[str] | None = None) -> set[str]:
    """Unique ids of the nodes that have a task of their own in ``dag`` (and, given ``in_run``, in the run:
    a run created before the manifest listed a node has no task for it, though the DAG parsed now has)."""
    return {node["unique_id"] for task in dag.tasks
            if (node := node_of(task)) and (in_run is None or task.task_id in in_run)}


def tasks_in_run(context: Any) -> set[str] | None:
    """The task ids of this DAG run, as Airflow's metadata holds them (None where the task instance cannot
    ask: outside a task runner)."""
    ti = context["ti"]
    if not callable(getattr(ti, "get_task_states", None)):
        return None
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[context["run_id"]])
    return set(states.get(context["run_id"]) or {})


def owners(manifest: dict, rendered: set[str]) -> dict[str, set[str]]:
    """Unique id of a built node -> the rendered nodes whose tasks report it: a rendered node reports
    itself; a test without a task of its own is reported by each rendered node it tests."""
    out: dict[str, set[str]] = {uid: {uid} for uid in rendered}
    for uid, node in (manifest.get("nodes") or {}).items():
        if node.get("resource_type") == "test" and uid not in rendered:
            parents = {p for p in (node.get("depends_on") or {}).get("nodes") or [] if p in rendered}
            if parents:
                out[uid] = parents
    return out


def _state_root(task: Any) -> Path:
    from dango_provider.core.naming import Naming

    return Naming.state_dir(Path(task.callback_args["project_root"]))


def _manifest(task: Any) -> dict:
    from dango_provider.core.dbt_cli import read_manifest

    return read_manifest(Path(task.project_dir))


def _describe(node: dict) -> str:
    took = f", {node['execution_time']} s" if node.get("execution_time") is not None else ""
    rows = f", {node['rows']} rows" if node.get("rows") is not None else ""
    message = f": {node['message']}" if node.get("message") and node.get("status") in FAILED else ""
    return f"{node.get('resource_type', 'node')} {node.get('name')}: {node.get('status')}{took}{rows}{message}"


def report_instead_of_building(context: Any) -> None:
    """``pre_execute`` part of a rendered node task: on its first try, when this run's ``dbt_build`` built
    its node, the task reports that result (failing when the node or a test it owns failed) instead of
    running dbt again."""
    task, ti = context["task"], context["ti"]
    node = node_of(task)
    if node is None:
        return
    if getattr(ti, "try_number", 1) > 1:
        publish_after_building(context)
        return
    built = {uid: n for uid, n in run_nodes(_state_root(task), context["run_id"]).items()
             if n.get("task_id") == BUILD_TASK}
    if node["unique_id"] not in built:
        publish_after_building(context)  # the build did not reach it: the task builds it itself
        return
    mine = owners(_manifest(task), rendered_nodes(context["dag"], tasks_in_run(context)))
    reported = sorted((n for uid, n in built.items() if node["unique_id"] in mine.get(uid, ())),
                      key=lambda n: (n["unique_id"] != node["unique_id"], n["unique_id"]))

    def report(**_: Any) -> Any:
        for result in reported:
            task.log.info("built by %s in this run: %s", BUILD_TASK, _describe(result))
        failed = [n for n in reported if n.get("status") in FAILED]
        if failed:
            raise RuntimeError("; ".join(_describe(n) for n in failed))
        if built[node["unique_id"]].get("status") == "skipped":
            raise RuntimeError(f"{node['name']} was not built: dbt skipped it (an upstream node failed)")
        return _ran_nothing()

    task.build_and_run_cmd = report


def publish_after_building(context: Any) -> None:
    """Whatever builds in a run publishes the serving copy once it built, when no node of the run has
    failed: ``dbt_build``, and a node task that builds its node itself (a retry, a clear, a node the build
    did not reach; the task that rebuilds the run's last failed node publishes it)."""
    task = context["task"]
    build = task.build_and_run_cmd

    def run(context: Any, cmd_flags: list[str] | None = None, **kwargs: Any) -> Any:
        result = build(context=context, cmd_flags=cmd_flags, **kwargs)
        publish_if_clean(task, context["run_id"])
        return result

    task.build_and_run_cmd = run


def publish_if_clean(task: Any, run_id: str) -> dict | None:
    """Checkpoint the warehouse and replace ``data/serving/warehouse.duckdb`` atomically, under the
    warehouse's write lock, unless a node of run ``run_id`` failed (then log why, and publish nothing)."""
    from dango_provider.core.naming import Naming
    from dango_provider.core.snapshot import serving_path
    from dango_provider.core.transform_results import not_published
    from dango_provider.hooks.warehouse import lock_owner, warehouse_for
    from dango_provider.settings import load_configured_project

    root = Path(task.callback_args["project_root"])
    reason = not_published(Naming.state_dir(root), run_id)
    if reason:
        task.log.warning("%s", reason)
        return None
    project = load_configured_project(root)
    warehouse = warehouse_for(project)
    with warehouse.write_lock(lock_owner(task.dag_id, task.task_id, run_id)):
        result = warehouse.publish(serving_path(project.warehouse_path))
    task.log.info("published %s (%s tables, %s bytes, storage %s by %s)", result["path"], result["tables"],
                  result["bytes"], result.get("storage_version"), result.get("method"))
    mark_scope_built(root, run_id)
    return result


def mark_scope_built(project_root: Path, run_id: str) -> None:
    """Record, for each source run ``run_id`` built (its scope, as ``sources_ready`` decided it), that the
    load it built is built: a later run with ``transform: {build: changed}`` then leaves it out unless a
    newer load triggered it."""
    from dango_provider.core.governance_state import mark_built, transform_scope
    from dango_provider.core.naming import Naming

    scope = transform_scope(Naming.state_dir(project_root)) or {}
    if scope.get("run_id") != run_id or scope.get("skipped"):
        return
    loads = scope.get("loads") or {}
    built = scope["selected"] if scope.get("selected") is not None else scope.get("ready", [])
    for name in built:
        if loads.get(name):
            mark_built(Naming.source_state_dir(project_root, name), loads[name])


def remember_run_results(task: Any, run_results: dict) -> None:
    setattr(task, _RESULTS, run_results)


def tolerate_reported_failures(context: Any) -> None:
    """``pre_execute`` part of ``dbt_build``: a failed node that a rendered task reports does not fail the
    build (its own task fails, and the run); any other failure, or a dbt that ran no node, does."""
    task = context["task"]
    build = task.build_and_run_cmd

    def run(context: Any, cmd_flags: list[str] | None = None, **kwargs: Any) -> Any:
        setattr(task, _RESULTS, None)
        try:
            return build(context=context, cmd_flags=cmd_flags, **kwargs)
        except Exception:
            results = getattr(task, _RESULTS, None)
            if not results:
                raise
            mine = owners(_manifest(task), rendered_nodes(context["dag"], tasks_in_run(context)))
            failed = [r for r in results.get("results") or [] if str(r.get("status")) in FAILED]
            unreported = [r["unique_id"] for r in failed if not mine.get(r.get("unique_id"))]
            if not failed or unreported:
                raise
            task.log.warning("%d node(s) failed; their own tasks fail with dbt's message: %s", len(failed),
                             ", ".join(sorted(r["unique_id"] for r in failed)))
            return _ran_nothing()

    task.build_and_run_cmd = run
