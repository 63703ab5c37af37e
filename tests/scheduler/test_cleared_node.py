"""Under a real scheduler (LocalExecutor, SQLite): the one ``dbt build`` publishes what it built before the
node tasks report, unless a node of the run failed. A failing test on a mart fails the mart's task and the run
(or the build, when the run has no task for the mart), and nothing is published; once the test is
fixed, clearing the mart's task with its downstream tasks in Airflow rebuilds the mart in that task, which
publishes the serving copy; Metabase's refresh and the docs, which follow the node tasks, then run too, and
the run succeeds."""

from __future__ import annotations

import duckdb
import pytest

from tests import payments
from tests.conftest import BIN, make_small_project, run
from tests.deployment import Deployment, wait_for

pytestmark = pytest.mark.slow

FILES = {**payments.FILES,
         "dbt/tests/totals_reach_100.sql": "select * from {{ ref('payment_totals') }} where total < 100\n"}
MART_TASK = "dbt.payment_totals_model_build"


def _transform(deployment: Deployment, seen: int = 0) -> tuple[str, str] | None:
    runs = deployment.query("select run_id, state from dag_run where dag_id = 'dango_transform' order by id")
    return runs[-1] if len(runs) > seen and runs[-1][1] in ("success", "failed") else None


def _rendered(deployment: Deployment) -> bool:
    rows = deployment.query("select data from serialized_dag where dag_id = 'dango_transform'")
    return any(MART_TASK in str(data) for (data,) in rows)


def _states(deployment: Deployment, run_id: str) -> dict[str, tuple[str, int]]:
    rows = deployment.query("select task_id, state, try_number from task_instance where dag_id = 'dango_transform' "
                            "and run_id = ?", run_id)
    return {task_id: (state, tries) for task_id, state, tries in rows}


def test_a_cleared_node_task_rebuilds_its_node_and_publishes(tmp_path):
    project = make_small_project(tmp_path / "project", payments.SOURCES, FILES)
    serving = project / "data" / "serving" / "warehouse.duckdb"
    deployment = Deployment(tmp_path, project, "sqlite")
    try:
        deployment.start_all()
        wait_for(lambda: len(deployment.query("select dag_id from dag where dag_id like 'dango_%'")) == 2,
                 240, "the DAG processor to parse the DAGs")
        deployment.trigger("dango_ingest__payments")
        # the load's transform: its run may have been created before the DAG showed the mart (no manifest
        # yet), and then no task of the run reports the mart's failing test: the build fails instead
        run_id, state = wait_for(lambda: _transform(deployment), 600, "the transform the load triggers",
                                 explain=deployment.unfinished)
        states = _states(deployment, run_id)
        assert state == "failed", states
        assert states["dbt_build"][0] == "failed" or states[MART_TASK][0] == "failed", states
        assert not serving.exists()

        wait_for(lambda: _rendered(deployment), 240, "dango_transform rendered with the mart's task")
        deployment.trigger("dango_transform")
        run_id, state = wait_for(lambda: _transform(deployment, seen=1), 600, "the transform triggered",
                                 explain=deployment.unfinished)
        states = _states(deployment, run_id)
        assert state == "failed", states
        assert states["dbt_build"][0] == "success" and states[MART_TASK][0] == "failed"
        assert states["refresh_metabase"][0] == states["dbt_docs"][0] == "upstream_failed" and not serving.exists()
        logs = deployment.task_logs()
        assert "not published: 1 node(s) of this run failed" in logs and "test totals_reach_100: fail" in logs

        # fix the test, then clear the mart's failed task and what failed after it, as from the Airflow UI
        (project / "dbt" / "tests" / "totals_reach_100.sql").write_text(
            "select * from {{ ref('payment_totals') }} where total < 0\n")
        run([str(BIN / "airflow"), "tasks", "clear", "dango_transform", "--task-regex", "payment_totals_model",
             "--downstream", "--only-failed", "--yes"], deployment.env)
        wait_for(lambda: _transform(deployment, seen=1) == (run_id, "success"), 300, "the cleared run to succeed",
                 explain=deployment.unfinished)
        states = _states(deployment, run_id)
        assert states[MART_TASK] == ("success", 2), states
        assert states["refresh_metabase"][0] == states["dbt_docs"][0] == "success", states
        assert (serving.parent / "docs" / "index.html").exists()
        con = duckdb.connect(str(serving), read_only=True)
        try:
            assert con.sql("select payments, total from marts.payment_totals").fetchone() == (3, 9.5)
        finally:
            con.close()
        [second] = [p for folder in deployment.log_folders for p in folder.rglob("attempt=2*")
                    if f"task_id={MART_TASK}" in str(p) and f"run_id={run_id}" in str(p)]
        assert "published " in second.read_text() and "serving" in second.read_text()
    finally:
        deployment.stop()
