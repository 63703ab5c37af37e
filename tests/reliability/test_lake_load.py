"""Load on the DuckLake warehouse: a real scheduler (LocalExecutor, PostgreSQL metadata database) runs six
ingest DAGs at once with a writer pool of three slots, then the asset-triggered transform, into a DuckLake
whose catalog is another PostgreSQL database.

Expected: every run succeeds, row counts exact and no duplicate keys, writer-pool tasks of different
sources overlapped (the lake takes concurrent commits; conflicting ones are retried), the serving copy
published, nothing reached beyond this machine, the catalog password in no task log.
"""

from __future__ import annotations

import secrets

import duckdb
import pytest

from dango_provider.hooks.ducklake import DuckLakeHook
from tests import pg
from tests.conftest import make_small_project
from tests.deployment import Deployment, ingest_and_transform_done, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.scheduler, pytest.mark.slow]

SOURCES = 6
ROWS = 2_000
SLOTS = 3
PASSWORD = "lk" + secrets.token_hex(10)


def test_six_sources_at_once_into_the_lake(tmp_path, monkeypatch):
    names = [f"s{i:02d}" for i in range(SOURCES)]
    entries = "".join(f"  - name: {n}\n    type: csv\n    primary_key: id\n    csv: {{directory: data/{n}}}\n"
                      for n in names)
    files = {f"data/{n}/part.csv": "id,value,label\n" + "".join(f"{r},{r * i},l{r}\n" for r in range(ROWS))
             for i, n in enumerate(names)}
    files["dbt/models/marts/source_counts.sql"] = " union all ".join(
        f"select '{n}' as source, count(*) as n from {{{{ ref('stg_{n}__{n}') }}}}" for n in names) + "\n"
    project = make_small_project(
        tmp_path / "project",
        'version: "1.0"\nwarehouse: {type: ducklake, catalog: lake_catalog, data_path: data/lake}\n'
        "defaults: {retries: 2}\nsources:\n" + entries, files)
    with pg.temporary_database("dango_lake_load") as database:
        catalog = pg.url(database, password=PASSWORD)
        monkeypatch.setenv("AIRFLOW_CONN_LAKE_CATALOG", catalog)
        deployment = Deployment(tmp_path, project)
        deployment.env.update(AIRFLOW_CONN_LAKE_CATALOG=catalog, AIRFLOW__DANGO__POOL_SLOTS=str(SLOTS))
        ingest_ids = [f"dango_ingest__{n}" for n in names]
        try:
            deployment.start_all()
            pool = wait_for(lambda: deployment.query("select slots from slot_pool where pool = 'dango_duckdb'"),
                            120, "the listener to create pool dango_duckdb")
            assert pool == [(SLOTS,)]
            wait_for(lambda: len(deployment.query("select dag_id from dag where dag_id like 'dango_%'")) == SOURCES + 1,
                     240, "the DAG processor to parse the DAGs")
            for dag_id in ingest_ids:
                deployment.trigger(dag_id)
            wait_for(ingest_and_transform_done(deployment, ingest_ids), 1200,
                     "all ingest runs and the transform to succeed", interval=5)
            pool_windows = deployment.query(
                "select start_date, end_date, dag_id, task_id from task_instance "
                "where pool = 'dango_duckdb' and state = 'success' and dag_id like 'dango_ingest__%' "
                "order by start_date")
        finally:
            deployment.stop()
        lake = DuckLakeHook("lake_catalog", project / "data" / "lake")
        con = lake.connect(read_only=True)
        try:
            counts = dict(con.execute("select source, n from marts.source_counts").fetchall())
            distinct = {n: con.execute(f"select count(distinct id) from raw_{n}.{n}").fetchone()[0] for n in names}
            loads = con.execute("select count(*) from dango_meta.load_history").fetchone()[0]
            identities = con.execute("select count(*) from dango_meta.warehouse_identity").fetchone()[0]
        finally:
            con.close()
    assert counts == {n: ROWS for n in names}
    assert distinct == counts
    assert loads == SOURCES
    assert identities == 1, "concurrent first loads agreed on one warehouse id"
    overlapping = [(a[2:], b[2:]) for i, a in enumerate(pool_windows) for b in pool_windows[i + 1:]
                   if a[2] != b[2] and a[0] < b[1] and b[0] < a[1]]
    assert overlapping, "no two sources' writer-pool tasks overlapped: the pool of three slots was not used"
    serving = duckdb.connect(str(project / "data" / "serving" / "warehouse.duckdb"), read_only=True)
    try:
        assert dict(serving.execute("select source, n from marts.source_counts").fetchall()) == counts
    finally:
        serving.close()
    assert not (project / "data" / "warehouse.duckdb").exists()
    logs = deployment.task_logs()
    assert logs, "no task logs were written"
    assert PASSWORD not in logs
    assert deployment.refused_connections() == []
