"""A real Airflow deployment (PostgreSQL metadata, LocalExecutor, api-server, DAG processor, scheduler)
runs the demo: every ingest DAG at once, then the asset-triggered transform.

Checks: the plugin listener created the single-slot pool at start-up, every run succeeds, warehouse
write windows never overlap, and no task hit DuckDB's own file lock.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import make_demo_project
from tests.deployment import Deployment, ingest_and_transform_done, wait_for
from tests.integration.expected import KEYS, demo_expectations

pytestmark = [pytest.mark.scheduler, pytest.mark.slow]


def test_demo_under_a_real_scheduler(tmp_path):
    project = make_demo_project(tmp_path / "project")
    deployment = Deployment(tmp_path, project, "postgres")
    assert deployment.query("select count(*) from slot_pool where pool = 'dango_duckdb'") == [(0,)]
    try:
        deployment.start_all()
        pool = wait_for(lambda: deployment.query("select slots from slot_pool where pool = 'dango_duckdb'"),
                        120, "the listener to create pool dango_duckdb")
        assert pool == [(1,)]
        ingest_ids = [f"dango_ingest__{s}" for s in KEYS]
        wait_for(lambda: len(deployment.query("select dag_id from dag where dag_id like 'dango_%'")) == 5,
                 180, "the DAG processor to parse the five dango DAGs")
        for dag_id in ingest_ids:
            deployment.trigger(dag_id)

        wait_for(ingest_and_transform_done(deployment, ingest_ids), 900,
                 "every ingest run and the asset-triggered transform to succeed", interval=5)
    finally:
        deployment.stop()

    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        windows = con.sql("select source, started_at, finished_at from dango_meta.load_history order by started_at").fetchall()
        counts = {s: con.sql(f"select count(*) from raw_{s}.{s}").fetchall()[0][0] for s in KEYS}
        marts = con.sql("select count(*) from marts.customer_lifetime_value").fetchall()[0][0]
    finally:
        con.close()
    assert sorted(w[0] for w in windows) == sorted(KEYS)
    for before, after in zip(windows, windows[1:]):
        assert before[2] <= after[1], f"write windows overlap: {before} and {after}"
    expected = demo_expectations(project / "include" / "data")
    assert counts == expected["counts"]
    assert marts == expected["counts"]["customers"]
    logs = deployment.task_logs()
    assert logs, "no task logs were written"
    assert "Could not set lock" not in logs
