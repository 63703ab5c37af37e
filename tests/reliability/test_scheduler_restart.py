"""The scheduler dies mid-run (SIGKILL to it and every process it started, as when its container
dies) and is started again: the interrupted task is detected, retried, and every run completes with
exact row counts and no duplicate keys."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import BIN, make_small_project, run
from tests.deployment import Deployment, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.scheduler, pytest.mark.slow]

ROWS = 300_000
SOURCES = 2


def _project(root):
    entries = "".join(f"  - name: s{i}\n    type: csv\n    primary_key: id\n    csv: {{directory: data/s{i}}}\n"
                      for i in range(SOURCES))
    project = make_small_project(root, 'version: "1.0"\ndefaults: {retries: 3, retry_delay: 5s}\nsources:\n' + entries, {})
    con = duckdb.connect()
    for i in range(SOURCES):
        (project / "data" / f"s{i}").mkdir(parents=True)
        con.execute(f"COPY (SELECT range AS id, range * {i + 1} AS value, 'label ' || range AS label "
                    f"FROM range({ROWS})) TO '{project / 'data' / f's{i}' / 'part.csv'}' (HEADER)")
    con.close()
    return project


def test_scheduler_killed_mid_run_and_restarted(tmp_path):
    project = _project(tmp_path / "project")
    deployment = Deployment(tmp_path, project, "postgres")
    deployment.env.update({
        # a task whose process died stops heartbeating: detect it after 20 s instead of 5 min
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
        # tasks the killed scheduler had queued are reset by the orphan check: every 15 s, not 5 min
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "15",
    })
    dag_ids = [f"dango_ingest__s{i}" for i in range(SOURCES)]
    try:
        deployment.start_all()
        wait_for(lambda: len(deployment.query("select dag_id from dag where dag_id like 'dango_%'")) == SOURCES + 1,
                 240, "the DAG processor to parse the DAGs")
        # the transform is not under test here: paused, its dbt runs do not compete with the ingest runs
        run([str(BIN / "airflow"), "dags", "pause", "dango_transform"], deployment.env)
        for dag_id in dag_ids:
            deployment.trigger(dag_id)
        running = wait_for(lambda: deployment.query(
            "select dag_id, task_id from task_instance where state = 'running' and dag_id like 'dango_ingest__%'"),
            300, "an ingest task to be running", interval=0.5)
        deployment.kill_group("scheduler")
        deployment.start("scheduler")

        def done():
            states = deployment.query("select dag_id, state from dag_run where dag_id like 'dango_ingest__%'")
            assert not [s for s in states if s[1] == "failed"], f"failed runs: {states}"
            return len(states) == SOURCES and all(s == "success" for _, s in states)

        wait_for(done, 900, "the interrupted runs to complete after the restart", interval=3)
        retried = deployment.query("select dag_id, task_id, try_number from task_instance where try_number > 1")
    finally:
        deployment.stop()

    assert running, "no task was running when the scheduler was killed"
    assert retried, "no task was retried: the kill interrupted nothing"
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        for i in range(SOURCES):
            assert con.sql(f"select count(*), count(distinct id) from raw_s{i}.s{i}").fetchone() == (ROWS, ROWS)
        loads = con.sql("select source, count(*) from dango_meta.load_history group by source").fetchall()
    finally:
        con.close()
    assert dict(loads) == {f"s{i}": 1 for i in range(SOURCES)}
