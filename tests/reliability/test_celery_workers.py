"""Several workers: a real CeleryExecutor deployment (Redis broker, PostgreSQL metadata database) whose
workers stand for machines of their own (own working directory, task log folder and ``[dango] work_dir``,
one of them on another file system); they share the project directory only, as the DAGs folder is shared
in a multi-machine Airflow.

Ten sources are triggered at once while one worker runs; the worker is SIGKILLed (with every process it
started) in the middle of the big source's warehouse write, then two other workers come up, one of them
its replacement. Expected, on DuckLake (writer pool of three slots, every worker takes every task) and on
the DuckDB file (tasks that open it on the one queue ``[dango] duckdb_queue``, one worker at a time
consumes it): every run succeeds, the killed load retried on another worker, exact rows and no duplicate
keys, one load record per source, extracts and loads of one source on different machines (the hand-over
through the run's stash), nothing reached beyond this machine and the catalog password in no log.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import duckdb
import psutil
import pytest

from dango_provider.hooks.ducklake import DuckLakeHook
from tests import pg
from tests.conftest import BIN, make_small_project
from tests.deployment import Deployment, ingest_and_transform_done, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.scheduler, pytest.mark.slow]

SOURCES = 10
ROWS = 2_000
BIG_ROWS = 3_000_000
FILE_QUEUE = "duckdb_file"
PASSWORD = "ck" + secrets.token_hex(10)


def _project(root: Path, warehouse: str) -> tuple[Path, list[str]]:
    names = [f"s{i:02d}" for i in range(SOURCES)]
    entries = "".join(f"  - name: {n}\n    type: csv\n    primary_key: id\n    csv: {{directory: data/{n}}}\n"
                      for n in names)
    files = {f"data/{n}/part.csv": "id,value,label\n" + "".join(f"{r},{r * i},l{r}\n" for r in range(ROWS))
             for i, n in enumerate(names[1:], 1)}
    files["dbt/models/marts/source_counts.sql"] = " union all ".join(
        f"select '{n}' as source, count(*) as n from {{{{ ref('stg_{n}__{n}') }}}}" for n in names) + "\n"
    block = ("warehouse: {type: ducklake, catalog: lake_catalog, data_path: data/lake}\n"
             if warehouse == "ducklake" else "")
    project = make_small_project(root, f'version: "1.0"\n{block}defaults: {{retries: 2, retry_delay: 5s}}\n'
                                       "sources:\n" + entries, files)
    (project / "data" / "s00").mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"COPY (SELECT range AS id, range * 3 AS value, 'l' || range AS label FROM range({BIG_ROWS})) "
                f"TO '{project / 'data' / 's00' / 'part.csv'}' (HEADER)")
    con.close()
    return project, names


def _task_logs(machine: Path, dag_id: str, task_id: str) -> list[Path]:
    return sorted((machine / "logs").glob(f"dag_id={dag_id}/*/task_id={task_id}/attempt=*.log"))


def _kill_machine(deployment: Deployment, name: str) -> None:
    """SIGKILL the worker and every process it started (task supervisors and task processes), as when
    its machine goes away."""
    proc = deployment.procs.pop(f"worker-{name}")
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    for member in tree:
        try:
            member.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    proc.wait(timeout=30)


@pytest.mark.parametrize("warehouse", ["ducklake", "duckdb"])
def test_ten_sources_on_celery_workers_one_killed_mid_load(tmp_path, monkeypatch, warehouse):
    project, names = _project(tmp_path / "project", warehouse)
    lake = warehouse == "ducklake"
    ingest_ids = [f"dango_ingest__{n}" for n in names]
    with ExitStack() as stack:
        deployment = Deployment(tmp_path, project, executor="CeleryExecutor")
        if lake:
            catalog = pg.url(stack.enter_context(pg.temporary_database("dango_celery_lake")), password=PASSWORD)
            monkeypatch.setenv("AIRFLOW_CONN_LAKE_CATALOG", catalog)
            deployment.env.update(AIRFLOW_CONN_LAKE_CATALOG=catalog, AIRFLOW__DANGO__POOL_SLOTS="3")
            queues = ("default",)
        else:
            deployment.env.update(AIRFLOW__DANGO__DUCKDB_QUEUE=FILE_QUEUE)
            queues = ("default", FILE_QUEUE)
        try:
            deployment.start_all()
            # worker a extracts on another file system than the project's: the hand-over copies
            shm = Path(tempfile.mkdtemp(dir="/dev/shm"))
            stack.callback(shutil.rmtree, shm, ignore_errors=True)
            machine_a = deployment.start_worker("a", queues, work_dir=shm)
            deployment.ready(SOURCES + 1, pool_slots=3 if lake else 1)

            def writing() -> bool:  # dlt's load of the run's package started (its progress line)
                logs = _task_logs(machine_a, "dango_ingest__s00", "load")
                return bool(logs) and "Load dango_s00 in" in logs[0].read_text(errors="replace")

            def kill_while_writing() -> None:
                wait_for(writing, 600, "the big source's load to write on a", 0.05)
                time.sleep(1.0)  # into the write of three million rows (about 10 s here)
                assert "rows loaded" not in _task_logs(machine_a, "dango_ingest__s00", "load")[0].read_text()
                _kill_machine(deployment, "a")

            with ThreadPoolExecutor(1) as watcher:
                kill = watcher.submit(kill_while_writing)
                triggers = [subprocess.Popen([str(BIN / "airflow"), "dags", "trigger", d], env=deployment.env,
                                             stdout=subprocess.DEVNULL) for d in ingest_ids]
                assert [t.wait(timeout=300) for t in triggers] == [0] * SOURCES
                kill.result(timeout=600)
            machines = [machine_a,
                        deployment.start_worker("b", ("default",)),
                        deployment.start_worker("c", queues)]  # a's replacement: the file's queue too
            wait_for(ingest_and_transform_done(deployment, ingest_ids), 600,
                     "all ingest runs and the transform to succeed", interval=5, explain=deployment.unfinished)
            killed = deployment.query("select try_number, state from task_instance "
                                      "where dag_id = 'dango_ingest__s00' and task_id = 'load'")
            pool_windows = deployment.query(
                "select start_date, end_date, dag_id, task_id from task_instance "
                "where pool = 'dango_duckdb' and state = 'success' and dag_id like 'dango_ingest__%' "
                "order by start_date")
        finally:
            deployment.stop()
        counts, distinct, loads, identities = _warehouse_counts(project, names, lake)

    expected = {n: BIG_ROWS if n == "s00" else ROWS for n in names}
    assert counts == expected
    assert distinct == expected, "duplicate keys"
    assert loads == SOURCES, "one load record per source"
    assert identities == 1, "concurrent first loads agreed on one warehouse id"
    assert killed[0][0] >= 2 and killed[0][1] == "success", killed
    # the killed attempt ran on a, the successful retry on another machine
    assert _task_logs(machine_a, "dango_ingest__s00", "load")[0].name == "attempt=1.log"
    assert any(_task_logs(m, "dango_ingest__s00", "load") for m in machines[1:])

    def ran_on(task_id: str, dag_id: str) -> set[str]:
        return {m.name for m in machines if _task_logs(m, dag_id, task_id)}

    loads_on = {n: ran_on("load", f"dango_ingest__{n}") for n in names}
    extracts_on = {n: ran_on("extract", f"dango_ingest__{n}") for n in names}
    assert all(list((m / "logs").rglob("*.log")) for m in machines[1:]), "both new workers took tasks"
    assert any(extracts_on[n] - loads_on[n] for n in names), "no extract and load of a source on different machines"
    if lake:
        overlapping = [(a[2:], b[2:]) for i, a in enumerate(pool_windows) for b in pool_windows[i + 1:]
                       if a[2] != b[2] and a[0] < b[1] and b[0] < a[1]]
        assert overlapping, "no two sources' writer-pool tasks overlapped: the pool of three slots was not used"
        assert not (project / "data" / "warehouse.duckdb").exists()
    else:  # the file was opened by the machines of its queue only, one at a time
        writer_tasks = ("load", "schema_drift", "pii_scan")
        assert all(not _task_logs(machines[1], f"dango_ingest__{n}", t) for n in names for t in writer_tasks)
        for before, after in zip(pool_windows, pool_windows[1:]):
            assert before[1] <= after[0], f"pool tasks overlap: {before[2:]} and {after[2:]}"
    serving = duckdb.connect(str(project / "data" / "serving" / "warehouse.duckdb"), read_only=True)
    try:
        assert dict(serving.execute("select source, n from marts.source_counts").fetchall()) == expected
    finally:
        serving.close()
    logs = deployment.task_logs()
    assert PASSWORD not in logs
    assert deployment.refused_connections() == []


def _warehouse_counts(project: Path, names: list[str], lake: bool):
    if lake:
        con = DuckLakeHook("lake_catalog", project / "data" / "lake").connect(read_only=True)
    else:
        con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        counts = {n: con.execute(f"select count(*) from raw_{n}.{n}").fetchone()[0] for n in names}
        distinct = {n: con.execute(f"select count(distinct id) from raw_{n}.{n}").fetchone()[0] for n in names}
        loads = con.execute("select count(*) from dango_meta.load_history").fetchone()[0]
        identities = con.execute("select count(*) from dango_meta.warehouse_identity").fetchone()[0]
    finally:
        con.close()
    return counts, distinct, loads, identities
