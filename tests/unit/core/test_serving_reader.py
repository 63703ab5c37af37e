"""Reading the serving copy: read-only, limits, and files that are missing or not DuckDB."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import duckdb

from dango_provider.core.load_history import LoadRecord, record_loads
from dango_provider.core.serving_reader import read_serving_copy

T0 = datetime(2025, 3, 1, tzinfo=UTC)
READER = "import sys, duckdb; c = duckdb.connect(sys.argv[1], read_only=True); print('reading', flush=True); sys.stdin.read()"


def test_missing_file(tmp_path):
    data = read_serving_copy(tmp_path / "serving" / "warehouse.duckdb")
    assert (data.exists, data.error, data.loads, data.relations) == (False, None, {}, [])
    assert not (tmp_path / "serving").exists()  # reading never creates the file


def test_only_the_last_loads_per_source(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    record_loads(con, [LoadRecord("orders", "orders", i, str(i), 1, T0 + timedelta(hours=i),
                                  T0 + timedelta(hours=i, seconds=3)) for i in range(40)])
    con.close()

    loads = read_serving_copy(path, max_loads=30).loads["orders"]
    assert len(loads) == 30
    assert [x["rows"] for x in loads] == list(range(10, 40))
    assert loads[-1]["at"] == T0 + timedelta(hours=39, seconds=3)
    assert loads[-1]["duration_s"] == 3.0


def test_opens_read_only_beside_another_reader(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    con.close()
    # a BI tool holding the copy open in its own process
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "reading"
        data = read_serving_copy(path)
    finally:
        reader.communicate("", timeout=60)
    assert data.error is None
    assert data.relations == [{"schema": "main", "table": "t", "kind": "table", "rows": 1}]
    assert data.loads == {} and data.pii == {} and data.open_drift == {}  # no dango_meta tables: nothing to show


def test_a_file_that_is_not_duckdb_is_an_error_not_an_exception(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"\x00garbage" * 512)
    data = read_serving_copy(path)
    assert data.exists is True
    assert data.error and "Error" in data.error


def test_dlt_tables_and_staging_datasets_are_left_out(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    for sql in ("CREATE SCHEMA raw_orders", "CREATE SCHEMA raw_orders_staging", "CREATE SCHEMA marts_staging",
                "CREATE TABLE raw_orders.orders AS SELECT 1 AS id", "CREATE TABLE raw_orders._dlt_loads AS SELECT 1 AS x",
                "CREATE TABLE raw_orders_staging.orders AS SELECT 1 AS id",
                "CREATE TABLE marts_staging.report AS SELECT 1 AS n"):
        con.execute(sql)
    con.close()
    data = read_serving_copy(path)
    # marts_staging has no 'marts' schema beside it: a user's own schema, kept
    assert [(r["schema"], r["table"]) for r in data.relations] == [("marts_staging", "report"), ("raw_orders", "orders")]
