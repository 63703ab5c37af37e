"""What every warehouse type does, run on each: the DuckDB file and the DuckLake (catalog on the test
PostgreSQL server). Writers take ``write_lock`` and ``connect()``; readers ``connect(read_only=True)``;
dlt loads through ``dlt_destination()``."""

from __future__ import annotations

import threading

import dlt
import pytest

import dango_provider.sources.pipeline  # noqa: F401 - dlt's settings as every pipeline of ours has them
from dango_provider.hooks.duckdb import DuckDBHook
from dango_provider.hooks.ducklake import DuckLakeHook
from dango_provider.hooks.warehouse import Warehouse
from tests import pg

pytestmark = pytest.mark.slow


@pytest.fixture(params=["duckdb", "ducklake"])
def warehouse(request, tmp_path, monkeypatch) -> Warehouse:
    if request.param == "duckdb":
        yield DuckDBHook(tmp_path / "warehouse.duckdb", lock_timeout=60)
        return
    with pg.temporary_database("dango_wh") as database:
        monkeypatch.setenv("AIRFLOW_CONN_WH_CATALOG", pg.url(database))
        yield DuckLakeHook("wh_catalog", tmp_path / "lake", lock_timeout=60)


def write(warehouse: Warehouse, sql: str, params: list | None = None, owner: str = "test") -> None:
    with warehouse.write_lock(owner) as waited:
        assert isinstance(waited, float)
        con = warehouse.connect()
        try:
            con.execute(sql, params or [])
        finally:
            con.close()


def scalar(warehouse: Warehouse, sql: str):
    con = warehouse.connect(read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_a_write_is_seen_by_a_reader(warehouse):
    write(warehouse, "create schema marts")
    write(warehouse, "create table marts.t as select range as id from range(7)")
    assert scalar(warehouse, "select count(*) from marts.t") == 7


def test_a_reader_cannot_write(warehouse):
    write(warehouse, "create table t (id integer)")
    con = warehouse.connect(read_only=True)
    try:
        with pytest.raises(Exception, match="(?i)read.only"):
            con.execute("insert into t values (1)")
    finally:
        con.close()


def test_writers_in_two_threads_keep_every_row(warehouse):
    write(warehouse, "create table events (writer varchar, n integer)")
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for n in range(20):
                write(warehouse, "insert into events values (?, ?)", [name, n], owner=name)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert scalar(warehouse, "select count(*) from (select distinct writer, n from events)") == 40
    assert scalar(warehouse, "select count(*) from events") == 40


def test_dlt_merges_by_key_without_duplicates(warehouse, tmp_path):
    pipeline = dlt.pipeline("behaviour", destination=warehouse.dlt_destination(), dataset_name="raw_orders",
                            pipelines_dir=str(tmp_path / "pipelines"))
    rows = [{"order_id": i, "status": "placed"} for i in range(500)]
    with warehouse.write_lock("dlt"):
        pipeline.run(rows, table_name="orders", write_disposition="merge", primary_key="order_id")
        pipeline.run([{**row, "status": "shipped"} for row in rows[:100]], table_name="orders",
                     write_disposition="merge", primary_key="order_id")
    assert scalar(warehouse, "select count(*) from raw_orders.orders") == 500
    assert scalar(warehouse, "select count(distinct order_id) from raw_orders.orders") == 500
    assert scalar(warehouse, "select count(*) from raw_orders.orders where status = 'shipped'") == 100


def test_dbt_env_names_no_secret(warehouse):
    env = warehouse.dbt_env()
    assert env and all(isinstance(value, str) for value in env.values())
    assert not any("password" in value.lower() or "postgres://" in value for value in env.values())


def test_publish_writes_a_consistent_copy_readers_open_alone(warehouse, tmp_path):
    import duckdb

    from dango_provider.metabase.versions import SERVING_STORAGE_VERSION

    write(warehouse, "create schema marts")
    write(warehouse, "create table marts.sales as select range as id, range * 2.5 as amount from range(100)")
    write(warehouse, "create view marts.big_sales as select * from marts.sales where amount > 100")
    target = tmp_path / "serving" / "warehouse.duckdb"
    with warehouse.write_lock("publish"):
        result = warehouse.publish(target)
    assert result["path"] == str(target) and result["tables"] >= 2
    write(warehouse, "insert into marts.sales values (1000, 1.0)")  # after the publish: not in the copy
    copy = duckdb.connect(str(target), read_only=True)
    try:
        assert copy.execute("select count(*) from marts.sales").fetchone()[0] == 100
        assert copy.execute("select count(*) from marts.big_sales").fetchone()[0] == 59
    finally:
        copy.close()
    assert result["storage_version"] and result["storage_version"] <= SERVING_STORAGE_VERSION + "+"
    assert not [p for p in target.parent.iterdir() if p != target], "no temp file left beside the copy"
