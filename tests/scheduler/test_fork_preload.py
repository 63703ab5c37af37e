"""Task processes of a real LocalExecutor scheduler inherit what the provider's listener imported in the
scheduler before it forked its workers: a task whose own DAG file imports neither dlt nor dbt finds both
already imported when it runs (without the listener, neither would be)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_small_project
from tests.deployment import Deployment, wait_for

pytestmark = [pytest.mark.scheduler, pytest.mark.slow]

SOURCES = """\
version: "1.0"
sources:
  - name: orders
    type: csv
    primary_key: order_id
    csv: {directory: data/orders}
"""

# a DAG of its own beside the project's: its file imports nothing of the provider, dlt or dbt
PROBE = '''\
import sys

from airflow.sdk import dag, task


@dag(dag_id="preload_probe", schedule=None)
def preload_probe():
    @task
    def modules():
        return {name: name in sys.modules for name in ("dlt", "dbt.cli.main", "cosmos.operators.local")}

    modules()


preload_probe()
'''


def test_task_processes_inherit_the_modules_preloaded_in_the_scheduler(tmp_path):
    project = make_small_project(tmp_path / "project", SOURCES, {
        "data/orders/a.csv": "order_id,amount\n1,10.0\n", "dags/preload_probe.py": PROBE})
    deployment = Deployment(tmp_path, project, "sqlite")
    try:
        deployment.start_all()
        wait_for(lambda: deployment.query("select 1 from dag where dag_id = 'preload_probe'"), 240,
                 "the DAG processor to parse the probe DAG")
        wait_for(lambda: deployment.query("select 1 from job where job_type = 'SchedulerJob' and state = 'running'"),
                 120, "the scheduler's heartbeat")
        deployment.trigger("preload_probe")
        wait_for(lambda: deployment.query("select state from dag_run where dag_id = 'preload_probe'")
                 in ([("success",)], [("failed",)]), 300, "the probe's run", explain=deployment.unfinished)
        assert deployment.query("select state from dag_run where dag_id = 'preload_probe'") == [("success",)]
        (value,) = deployment.query("select value from xcom where dag_id = 'preload_probe' and task_id = 'modules'")[0]
        assert json.loads(value) == {"dlt": True, "dbt.cli.main": True, "cosmos.operators.local": True}
        scheduler_log = (deployment.logs / "scheduler.log").read_text(errors="replace")
        assert "preloaded 7 module(s) for task processes" in scheduler_log
    finally:
        deployment.stop()
