"""Airflow's own DagBag over DAG files that call the builder: good files load, a bad one is an import error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO, airflow_env, make_demo_project, run

PARSE_SCRIPT = r"""
import json, sys
import croniter  # a library import that runs `file -b` (platform.architecture); not part of a DAG build
events = []
sys.addaudithook(lambda event, args: events.append(event) if event in ("subprocess.Popen", "os.system") else None)
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "dags": sorted(bag.dag_ids),
    "errors": {k: v for k, v in bag.import_errors.items()},
    "tasks": {d: sorted(t.task_id for t in bag.dags[d].tasks) for d in bag.dag_ids},
    "pools": {d: sorted({t.pool for t in bag.dags[d].tasks}) for d in bag.dag_ids},
    "placement": {d: {t.task_id: [t.pool, t.queue] for t in bag.dags[d].tasks} for d in bag.dag_ids},
    "schedules": {d: type(bag.dags[d].timetable).__name__ for d in bag.dag_ids},
    "subprocesses": events,
}))
"""


def parse(folder: Path, env: dict) -> dict:
    proc = run([sys.executable, "-c", PARSE_SCRIPT, str(folder)], env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory) -> Path:
    return make_demo_project(tmp_path_factory.mktemp("dagbag") / "project")


def test_repository_dags_folder_has_no_import_errors(airflow_home):
    result = parse(REPO / "dags", airflow_env(airflow_home, REPO))
    assert result["errors"] == {}
    assert result["dags"] == ["dango_ingest__customers", "dango_ingest__order_lines", "dango_ingest__orders",
                              "dango_ingest__products", "dango_transform"]


def test_demo_dags_tasks_and_pools(airflow_home, demo_project):
    result = parse(demo_project / "dags", airflow_env(airflow_home, demo_project))
    assert result["errors"] == {}
    ingest = "dango_ingest__orders"
    assert result["tasks"][ingest] == ["extract", "generate_staging", "load", "pii_scan", "schema_drift"]
    # only the warehouse write holds the single-slot pool; extraction and staging generation do not
    assert result["pools"][ingest] == ["dango_duckdb", "default_pool"]
    # dbt tasks write: all in the pool; the readiness check only reads state files
    assert result["pools"]["dango_transform"] == ["dango_duckdb", "default_pool"]
    assert result["schedules"][ingest] == "NullTimetable"
    assert result["schedules"]["dango_transform"] == "AssetTriggeredTimetable"
    # building DAGs runs no subprocess (no dbt ls) and does not create the warehouse
    assert result["subprocesses"] == []
    assert not (demo_project / "data" / "warehouse.duckdb").exists()


def test_a_task_process_builds_only_its_dag(airflow_home, demo_project):
    """Airflow names the DAG a task's process parses the file for: only that one is built there, with
    the same tasks, pools and schedule as when the DAG processor builds them all."""
    env = airflow_env(airflow_home, demo_project)
    everything = parse(demo_project / "dags", env)
    for dag_id in ("dango_transform", "dango_ingest__orders"):
        only = parse(demo_project / "dags", {**env, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": dag_id,
                                             "_AIRFLOW_PARSING_CONTEXT_TASK_ID": "any"})
        assert only["errors"] == {} and only["dags"] == [dag_id]
        for key in ("tasks", "placement", "schedules"):
            assert only[key][dag_id] == everything[key][dag_id], key


def _json_list(output: str) -> list[dict]:
    """The JSON list an ``airflow ... -o json`` command printed (after any log lines)."""
    return json.loads(next(line for line in output.splitlines() if line.startswith("[{") or line == "[]"))


def _dags_folder(tmp_path: Path, demo_project: Path) -> Path:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "dango_dags.py").write_text((demo_project / "dags" / "dango_dags.py").read_text())
    (dags / "other_dag.py").write_text(
        "from airflow.sdk import DAG\nfrom airflow.providers.standard.operators.empty import EmptyOperator\n"
        "with DAG('other_dag', schedule=None):\n    EmptyOperator(task_id='noop')\n"
    )
    return dags


def test_a_bad_source_entry_takes_out_only_its_dag(airflow_home, tmp_path, demo_project):
    """One typo in one entry: that source's DAG is left out and listed as an import error of the DAG file
    (file:line: field: message), while the other sources and the transform load; `airflow dags
    list-import-errors` shows it after Airflow parsed the folder."""
    dags = _dags_folder(tmp_path, demo_project)
    sources = demo_project / "sources.yml"
    original = sources.read_text()
    env = airflow_env(airflow_home, demo_project, AIRFLOW__CORE__DAGS_FOLDER=str(dags))
    try:
        sources.write_text(original.replace("primary_key: order_id", "primary_key: order_id\n    retention: 5"))
        result = parse(dags, env)
        run([str(BIN / "airflow"), "dags", "reserialize"], env)
        listed = run([str(BIN / "airflow"), "dags", "list-import-errors", "-o", "json"], env, check=False)
        active = run([str(BIN / "airflow"), "dags", "list", "-o", "json"], env)
    finally:
        sources.write_text(original)
    assert result["dags"] == ["dango_ingest__customers", "dango_ingest__order_lines", "dango_ingest__products",
                              "dango_transform", "other_dag"]
    assert list(result["errors"]) == [str(dags / "dango_dags.py")]
    error = result["errors"][str(dags / "dango_dags.py")]
    line = next(i for i, text in enumerate(original.splitlines(), 1) if "primary_key: order_id" in text) + 1
    assert f"1 source entry of {sources} left out (source 'orders'): their DAGs are not loaded" in error
    assert f"{sources}:{line}: sources[2].retention: unknown key 'retention'" in error
    assert "allowed keys here:" in error
    cli_errors = _json_list(listed.stdout)
    assert any(f"{sources}:{line}: sources[2].retention: unknown key 'retention'" in e["error"] for e in cli_errors)
    assert {"dango_ingest__customers", "dango_transform", "other_dag"} <= {d["dag_id"] for d in _json_list(active.stdout)}
    # the transform still depends on the three healthy sources
    assert "dango_ingest__orders" not in result["tasks"]


def test_a_duckdb_file_on_several_workers_needs_one_queue_for_its_tasks(airflow_home, demo_project):
    """On CeleryExecutor the DuckDB file's DAGs are refused until [dango] duckdb_queue names the queue of
    the one worker that opens the file; then every task that opens it goes there and the others anywhere."""
    celery = airflow_env(airflow_home, demo_project, AIRFLOW__CORE__EXECUTOR="CeleryExecutor")
    refused = parse(demo_project / "dags", celery)
    assert refused["dags"] == []
    (error,) = refused["errors"].values()
    assert "[dango] duckdb_queue (AIRFLOW__DANGO__DUCKDB_QUEUE)" in error
    assert "CeleryExecutor" in error and str(demo_project / "data" / "warehouse.duckdb") in error

    placed = parse(demo_project / "dags", {**celery, "AIRFLOW__DANGO__DUCKDB_QUEUE": "duckdb_file"})
    assert placed["errors"] == {}
    ingest = placed["placement"]["dango_ingest__orders"]
    assert {t for t, (_, queue) in ingest.items() if queue == "duckdb_file"} == {"load", "schema_drift", "pii_scan"}
    transform = placed["placement"]["dango_transform"]
    assert {"dbt_build", "dbt_docs"} <= {t for t, (_, q) in transform.items() if q == "duckdb_file"}
    for dag_id, tasks in placed["placement"].items():  # the writer pool's tasks, and only those
        for task_id, (pool, queue) in tasks.items():
            assert (queue == "duckdb_file") == (pool == "dango_duckdb"), (dag_id, task_id, pool, queue)


def test_a_broken_file_is_an_import_error_and_other_files_still_load(airflow_home, tmp_path, demo_project):
    dags = _dags_folder(tmp_path, demo_project)
    sources = demo_project / "sources.yml"
    original = sources.read_text()
    try:
        sources.write_text(original.replace("sources:", "sources: [", 1))
        result = parse(dags, airflow_env(airflow_home, demo_project))
    finally:
        sources.write_text(original)
    assert result["dags"] == ["other_dag"]
    assert list(result["errors"]) == [str(dags / "dango_dags.py")]
    assert f"{sources}:" in result["errors"][str(dags / "dango_dags.py")]
    assert "malformed YAML" in result["errors"][str(dags / "dango_dags.py")]


def test_provider_and_plugin_are_registered(airflow_home):
    env = airflow_env(airflow_home)
    providers = run([str(BIN / "airflow"), "providers", "list", "--output", "json"], env).stdout
    assert any(p["package_name"] == "dango-provider" for p in json.loads(providers[providers.index("["):]))
    plugins = run([str(BIN / "airflow"), "plugins", "--output", "json"], env).stdout
    names = [p["name"] for p in json.loads(plugins[plugins.index("["):])]
    assert "dango" in names
    config = run([str(BIN / "airflow"), "config", "get-value", "dango", "pool"], env).stdout.strip().splitlines()[-1]
    assert config == "dango_duckdb"


def test_dango_init_creates_the_pool(airflow_home, tmp_path):
    env = airflow_env(airflow_home, AIRFLOW__DANGO__POOL="dango_init_pool_test")
    out = run([str(BIN / "dango"), "init", str(tmp_path / "p")], env).stdout
    assert "pool 'dango_init_pool_test' created" in out
    pools = run([str(BIN / "airflow"), "pools", "get", "dango_init_pool_test", "--output", "json"], env).stdout
    assert int(json.loads(pools[pools.index("["):])[0]["slots"]) == 1


def test_defaults_retry_delay_and_interval_timetables_reach_the_ingest_dags(tmp_path):
    from datetime import timedelta

    from dango_provider.config.loader import load_project
    from dango_provider.dag_builder.build import build_dags

    (tmp_path / "sources.yml").write_text(
        "defaults: {retries: 4, retry_delay: 2m, schedule: '@daily'}\n"
        "sources:\n  - name: orders\n    type: csv\n    csv: {directory: data}\n")
    (tmp_path / "data").mkdir()

    dag = build_dags(load_project(tmp_path))["dango_ingest__orders"]

    assert dag.default_args["retries"] == 4 and dag.default_args["retry_delay"] == timedelta(minutes=2)
    # runs of a cron schedule cover [previous tick, this tick): what incremental sources load
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"


SCHEDULES_SCRIPT = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {}
for dag_id in sorted(bag.dag_ids):
    t = bag.dags[dag_id].timetable
    out[dag_id] = [type(t).__name__, getattr(t, "expression", None), str(getattr(t, "timezone", ""))]
print(json.dumps({"errors": bag.import_errors, "timetables": out}))
"""


def test_dango_schedules_become_the_dags_schedules(airflow_home, tmp_path, demo_project):
    """A Dango project's `.dango/schedules.yml` (sync schedules with their time zones, a dbt schedule) sets
    the ingest DAGs' and dango_transform's schedules; sources it does not list stay manual."""
    schedules = demo_project / ".dango" / "schedules.yml"
    schedules.parent.mkdir(exist_ok=True)
    # written by Dango's own save_schedules_config (tests/dango_compat/generate_fixtures.py)
    schedules.write_text((REPO / "tests" / "dango_compat" / "fixtures" / "schedules.yml").read_text())
    try:
        proc = run([sys.executable, "-c", SCHEDULES_SCRIPT, str(demo_project / "dags")],
                   airflow_env(airflow_home, demo_project))
        listed = run([str(BIN / "dango"), "source", "list", "--project", str(demo_project), "--json"], {})
    finally:
        schedules.unlink()
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    timetables = result["timetables"]
    assert timetables["dango_ingest__orders"] == ["CronDataIntervalTimetable", "0 6 * * *", "Europe/Berlin"]
    assert timetables["dango_ingest__order_lines"] == ["CronDataIntervalTimetable", "0 6 * * *", "Europe/Berlin"]
    assert timetables["dango_ingest__products"] == ["CronDataIntervalTimetable", "*/30 * * * *", "UTC"]
    assert timetables["dango_ingest__customers"][0] == "NullTimetable"
    assert timetables["dango_transform"] == ["CronTriggerTimetable", "0 7 * * *", "America/New_York"]
    schedules_listed = {s["name"]: s["schedule"] for s in json.loads(listed.stdout)["sources"]} \
        if listed.stdout.strip().startswith("{") else {s["name"]: s["schedule"] for s in json.loads(listed.stdout)}
    assert schedules_listed["orders"] == "0 6 * * * (Europe/Berlin)"
