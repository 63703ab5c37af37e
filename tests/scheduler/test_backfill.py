"""`airflow backfill create` on an incremental database source under a real scheduler: each run loads
exactly its data interval, and re-running an interval merges without duplicates or gaps."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import BIN, make_small_project, run
from tests.deployment import Deployment, wait_for
from tests.pg import connect, temporary_database, url

pytestmark = [pytest.mark.scheduler, pytest.mark.slow]

ROWS_PER_DAY = {"2024-03-01": 3, "2024-03-02": 4, "2024-03-03": 5, "2024-03-04": 2}
SOURCES = """\
version: "1.0"
defaults: {retries: 0}
sources:
  - name: shop
    type: sql_database
    schedule: "@daily"
    start_date: 2024-03-01
    sql_database:
      conn_id: shop_db
      schema: public
      tables: [{name: orders, incremental: updated_at, primary_key: id}]
"""


def _seed(database: str) -> None:
    con = connect(database)
    with con.cursor() as cur:
        cur.execute("create table orders (id int primary key, amount numeric(10, 2), updated_at timestamptz not null)")
        next_id = 1
        for day, count in ROWS_PER_DAY.items():
            for n in range(count):
                cur.execute("insert into orders values (%s, %s, %s)", (next_id, 10 + n, f"{day} {8 + n:02d}:30+00"))
                next_id += 1
    con.close()


def _backfill(deployment: Deployment, start: str, end: str, *extra: str) -> None:
    run([str(BIN / "airflow"), "backfill", "create", "--dag-id", "dango_ingest__shop", "--from-date", start,
         "--to-date", end, *extra], deployment.env)


def _backfill_runs(deployment: Deployment) -> list[tuple]:
    return deployment.query(
        "select data_interval_start, data_interval_end, state from dag_run "
        "where dag_id = 'dango_ingest__shop' and run_type = 'backfill' order by data_interval_start, id")


def _all_backfill_runs_done(deployment: Deployment, expected: int):
    def done():
        runs = _backfill_runs(deployment)
        failed = [r for r in runs if r[2] == "failed"]
        assert not failed, f"failed backfill runs: {failed}"
        return len(runs) == expected and all(r[2] == "success" for r in runs)
    return done


def test_backfill_loads_each_interval_once_and_reruns_are_idempotent(tmp_path):
    with temporary_database() as database:
        _seed(database)
        project = make_small_project(tmp_path / "project", SOURCES, {})
        deployment = Deployment(tmp_path, project, "postgres")
        deployment.env["AIRFLOW_CONN_SHOP_DB"] = url(database)
        try:
            deployment.start_all()
            wait_for(lambda: len(deployment.query("select dag_id from dag where dag_id like 'dango_%'")) == 2,
                     240, "the DAG processor to parse the DAGs")
            run([str(BIN / "airflow"), "dags", "pause", "dango_transform"], deployment.env)
            _backfill(deployment, "2024-03-01", "2024-03-03")
            wait_for(_all_backfill_runs_done(deployment, 3), 900, "three backfill runs to succeed", interval=3)
            first = _warehouse(project)
            wait_for(lambda: deployment.query("select count(*) from backfill where completed_at is null") == [(0,)],
                     300, "the scheduler to mark the backfill completed", interval=2)

            # an order of 2024-03-02 changes within that day; re-running that interval merges it
            con = connect(database)
            with con.cursor() as cur:
                cur.execute("update orders set amount = 99, updated_at = '2024-03-02 23:00+00' where id = 4")
            con.close()
            _backfill(deployment, "2024-03-02", "2024-03-02", "--reprocess-behavior", "completed")
            # the existing run of that interval is cleared and runs again under the second backfill
            wait_for(lambda: deployment.query("select count(*) from backfill where completed_at is not null")
                     == [(2,)], 600, "the second backfill to complete", interval=3)
            wait_for(_all_backfill_runs_done(deployment, 3), 60, "every backfill run to have succeeded")
            intervals = [(str(r[0].date()), str(r[1].date())) for r in _backfill_runs(deployment)]
        finally:
            deployment.stop()
    second = _warehouse(project)

    assert sorted(set(intervals)) == [("2024-03-01", "2024-03-02"), ("2024-03-02", "2024-03-03"),
                                      ("2024-03-03", "2024-03-04")]
    # each run loaded exactly its interval: 3, 4 and 5 rows, never the 2024-03-04 rows (runs of one
    # backfill overlap, so they load in any order)
    assert sorted(first["per_interval"]) == [("2024-03-01", 3), ("2024-03-02", 4), ("2024-03-03", 5)]
    assert first["rows"] == first["distinct"] == 12
    assert second["rows"] == second["distinct"] == 12
    assert second["amount_of_4"] == 99
    assert second["per_interval"][-1] == ("2024-03-02", 4)


def _warehouse(project) -> dict:
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        rows, distinct = con.sql("select count(*), count(distinct id) from raw_shop.orders").fetchone()
        amount = con.sql("select amount from raw_shop.orders where id = 4").fetchone()[0]
        per_interval = con.sql(
            "select strftime(data_interval_start at time zone 'UTC', '%Y-%m-%d'), rows from dango_meta.load_history "
            "where data_interval_start is not null order by finished_at").fetchall()
    finally:
        con.close()
    return {"rows": rows, "distinct": distinct, "amount_of_4": int(amount), "per_interval": per_interval}
