"""``dango run SOURCE`` against a real deployment (api-server, DAG processor, LocalExecutor scheduler on
SQLite): it refuses while no scheduler runs, then triggers the ingest, follows it with task states on
stderr and returns the run's result as its exit code, with the failed task's error line on a failure."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.conftest import BIN, make_small_project, run
from tests.deployment import Deployment, wait_for

pytestmark = pytest.mark.slow

SOURCES = """\
version: "1.0"
defaults: {retries: 0}
sources:
  - name: orders
    type: csv
    primary_key: order_id
    csv: {directory: data/orders}
  - name: broken
    type: csv
    primary_key: id
    csv: {directory: data/broken}
"""

FILES = {
    "data/orders/a.csv": "order_id,amount\n1,10.0\n2,20.0\n3,30.0\n",
    "data/broken/a.csv": "id,name\n1,a\n2,b,extra\n",
}


def dango_run(deployment: Deployment, project, *args: str):
    return run([str(BIN / "dango"), "run", *args, "--project", str(project)], deployment.env, check=False,
               timeout=600)


def test_dango_run_triggers_follows_and_exits_with_the_runs_result(tmp_path):
    project = make_small_project(tmp_path / "project", SOURCES, FILES)
    deployment = Deployment(tmp_path, project, "sqlite")
    try:
        deployment.start("dag-processor")
        wait_for(lambda: len(deployment.query("select dag_id from dag where dag_id like 'dango_%'")) == 3,
                 240, "the DAG processor to parse the DAGs")

        refused = dango_run(deployment, project, "orders")
        assert refused.returncode == 1
        assert "no scheduler is running" in refused.stderr and "airflow dags test dango_ingest__orders" in refused.stderr
        assert deployment.query("select run_id from dag_run") == [], "nothing is triggered when nothing would run it"

        unknown = dango_run(deployment, project, "order")
        assert unknown.returncode == 1 and "no source named 'order'" in unknown.stderr

        deployment.start("api-server")
        deployment.start("scheduler")
        wait_for(lambda: deployment.query("select 1 from job where job_type = 'SchedulerJob' and state = 'running'"),
                 120, "the scheduler's heartbeat")

        loaded = dango_run(deployment, project, "orders")
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        assert loaded.stdout.startswith("dango_ingest__orders run manual__") and ": success in " in loaded.stdout
        assert "triggered dango_ingest__orders run manual__" in loaded.stderr
        # each state change the poll sees: a task may run and finish between two polls on a busy machine
        assert re.search(r"\] extract: (running|success)", loaded.stderr) and "] load: success" in loaded.stderr
        con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
        try:
            assert con.sql("select count(*) from raw_orders.orders").fetchone()[0] == 3
        finally:
            con.close()

        failed = dango_run(deployment, project, "broken")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        lines = failed.stdout.splitlines()
        assert lines[0].startswith("dango_ingest__broken run manual__") and ": failed in " in lines[0]
        assert "failed task: extract (failed)" in lines
        assert any(line.startswith("error in extract: source 'broken': ") and "ragged row" in line for line in lines)
    finally:
        deployment.stop()
