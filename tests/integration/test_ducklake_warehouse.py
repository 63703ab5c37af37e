"""The DuckLake warehouse on the test PostgreSQL server (catalog) and a local data path: packaged extensions
only, concurrent writers, a conflicting commit retried, a real dlt load, no catalog password in errors."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import dlt
import duckdb
import pytest

from dango_provider.exceptions import DangoError
from dango_provider.hooks.ducklake import DuckLakeHook, is_conflict
from tests import pg

pytestmark = pytest.mark.slow

PASSWORD = "lk" + secrets.token_hex(10)


@pytest.fixture
def lake(tmp_path, monkeypatch) -> DuckLakeHook:
    with pg.temporary_database("dango_lake") as database:
        # trust auth: the password is sent and ignored, so it is in every connection string
        monkeypatch.setenv("AIRFLOW_CONN_LAKE_CATALOG", pg.url(database, password=PASSWORD))
        yield DuckLakeHook("lake_catalog", tmp_path / "lake_data")


def count(lake: DuckLakeHook, sql: str) -> int:
    con = lake.connect(read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_extensions_come_from_the_installed_packages(lake):
    con = lake.connect()
    try:
        loaded = dict(con.execute("select extension_name, install_path from duckdb_extensions() "
                                  "where extension_name in ('ducklake', 'postgres_scanner') and loaded").fetchall())
        settings = dict(con.execute("select name, value from duckdb_settings() where name in "
                                    "('autoinstall_known_extensions', 'autoload_known_extensions')").fetchall())
    finally:
        con.close()
    assert set(loaded) == {"ducklake", "postgres_scanner"}
    assert all("/duckdb_ext/extensions/v" + duckdb.__version__ + "/" in path for path in loaded.values()), loaded
    assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}


def test_two_writers_at_once_keep_every_row(lake):
    lake.retry_on_conflict(lambda con: con.execute("create table events (writer varchar, n integer)"))
    errors: list[BaseException] = []

    def write(writer: str) -> None:
        try:
            for n in range(25):
                lake.retry_on_conflict(lambda con, n=n: con.execute("insert into events values (?, ?)", [writer, n]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert count(lake, "select count(*) from events") == 50
    assert count(lake, "select count(*) from (select distinct writer, n from events)") == 50


def test_a_conflicting_commit_is_retried_on_a_fresh_transaction(lake):
    lake.retry_on_conflict(lambda con: con.execute("create table t as select range as id from range(5)"))
    rival = lake.connect()
    attempts = []

    def delete_one(con) -> None:
        attempts.append(len(attempts) + 1)
        con.execute("delete from t where id = 1")
        if len(attempts) == 1:  # another writer deletes from the same file and commits first
            rival.execute("begin transaction")
            rival.execute("delete from t where id = 1")
            rival.execute("commit")

    try:
        lake.retry_on_conflict(delete_one)
    finally:
        rival.close()
    assert attempts == [1, 2]
    assert count(lake, "select count(*) from t") == 4


def test_a_commit_that_keeps_conflicting_fails_after_the_bounded_attempts(lake):
    lake.retry_on_conflict(lambda con: con.execute("create table t as select range as id from range(5)"))
    rival = lake.connect()
    attempts = []

    def delete_always_beaten(con) -> None:
        attempts.append(1)
        con.execute("delete from t where id = 1")
        rival.execute("begin transaction")
        rival.execute("delete from t where id = 1 or true")  # touches the same file every time
        rival.execute("insert into t select range from range(5)")
        rival.execute("commit")

    try:
        with pytest.raises(duckdb.TransactionException) as raised:
            lake.retry_on_conflict(delete_always_beaten, attempts=3)
    finally:
        rival.close()
    assert is_conflict(raised.value)
    assert len(attempts) == 3


def test_dlt_loads_into_the_lake_and_readers_see_exact_rows(lake, tmp_path):
    pipeline = dlt.pipeline("lake_test", destination=lake.dlt_destination(), dataset_name="raw_orders",
                            pipelines_dir=str(tmp_path / "pipelines"))
    rows = [{"order_id": i, "amount": i * 1.5} for i in range(1000)]
    pipeline.run(rows, table_name="orders", write_disposition="merge", primary_key="order_id")
    pipeline.run(rows[:10], table_name="orders", write_disposition="merge", primary_key="order_id")
    assert count(lake, "select count(*) from raw_orders.orders") == 1000
    assert count(lake, "select count(distinct order_id) from raw_orders.orders") == 1000
    assert list(Path(lake.data_path).rglob("*.parquet")), "the data is Parquet under the data path"


def test_an_unreachable_catalog_is_an_error_without_its_password(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_CATALOG", pg.url("nowhere", password=PASSWORD, port=pg.PORT + 1))
    with pytest.raises(DangoError) as raised:
        DuckLakeHook("lake_catalog", tmp_path / "data").connect()
    message = str(raised.value)
    assert "Airflow connection 'lake_catalog'" in message
    assert PASSWORD not in message
