"""The serving copy opens in the DuckDB embedded by the Metabase DuckDB driver we pin.

A small warehouse (varchar, bigint, double, timestamptz and decimal columns, a view, dlt's load table
and ``dango_meta``) is published with ``publish()``, then opened read-only by another DuckDB release
installed from PyPI into its own venv (cached under ``~/.cache/dango-test/duckdb-<version>``), which
reads back every table's row count and values; they must equal what our DuckDB reads from the live
warehouse.

- The pinned driver (``DRIVER_DUCKDB_VERSION``) reads the serving copy of a warehouse in the default
  storage version and of one written in the newest storage version our DuckDB writes.
- An older reader, DuckDB 1.3.2, cannot open a plain copy of a warehouse in storage version v1.4.0
  (checked here: this is what the test would see without the rewrite in ``publish()``), and reads the
  copy ``publish()`` writes for it.

Our DuckDB (1.4.4, decision 0011) writes no storage version newer than v1.4.0, which DuckDB 1.5.5
reads; so for the pinned pair ``publish()`` takes its plain-copy path, and the rewrite path is the
guard for an older reader, exercised by the 1.3.2 case.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from dango_provider.core.snapshot import publish, serving_path
from dango_provider.metabase.versions import DRIVER_DUCKDB_VERSION, SERVING_STORAGE_VERSION, storage_version_for

pytestmark = pytest.mark.slow

CACHE = Path.home() / ".cache" / "dango-test"
OLDER_READER_DUCKDB = "1.3.2"  # older than our DuckDB: reads storage versions up to v1.3.0

# Reads every table and view: {"duckdb": version, "storage_version": ..., "tables": {name: {"rows": n, "values": [...]}}}.
# Timestamps with time zone are compared as epoch microseconds and decimals as text, so both DuckDB
# releases print them the same way.
READER = r'''
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True, config={"autoinstall_known_extensions": False})
out = {"duckdb": duckdb.__version__, "tables": {},
       "storage_version": con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                                      "WHERE database_name = current_database()").fetchone()[0]}
relations = con.execute("""
    SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()
    UNION ALL
    SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal
    ORDER BY 1, 2""").fetchall()
for schema, table in relations:
    name = '"%s"."%s"' % (schema, table)
    columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
                          "AND schema_name = ? AND table_name = ? ORDER BY column_index", [schema, table]).fetchall()
    select = ", ".join(
        "epoch_us(\"%s\")" % c if t == "TIMESTAMP WITH TIME ZONE"
        else "CAST(\"%s\" AS VARCHAR)" % c if t.startswith("DECIMAL") else '"%s"' % c
        for c, t in columns)
    rows = con.execute("SELECT %s FROM %s ORDER BY ALL" % (select, name)).fetchall()
    out["tables"][schema + "." + table] = {"rows": len(rows), "values": [list(r) for r in rows]}
print(json.dumps(out))
'''


def duckdb_python(version: str) -> Path:
    """A venv with ``duckdb==version`` from PyPI, created once and reused (a lock guards parallel runs)."""
    venv = CACHE / f"duckdb-{version}"
    python = venv / "bin" / "python"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"duckdb-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        f"duckdb=={version}"], check=True, timeout=600)
        (venv / ".complete").write_text(version)
    return python


def read_with(python: Path | str, database: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-c", READER, str(database)], capture_output=True, text=True, timeout=300)


def make_warehouse(path: Path, storage: str | None) -> None:
    """A small warehouse like a dango one; ``storage`` None: DuckDB's default storage version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    option = f" (STORAGE_VERSION '{storage}')" if storage else ""
    con.execute(f"ATTACH '{path}' AS warehouse{option}")
    con.execute("USE warehouse")
    con.execute("CREATE SCHEMA raw_orders; CREATE SCHEMA staging; CREATE SCHEMA marts; CREATE SCHEMA dango_meta")
    con.execute("""
        CREATE TABLE raw_orders.orders (
            order_id BIGINT, customer VARCHAR, amount DOUBLE, ordered_at TIMESTAMPTZ, total DECIMAL(18, 2),
            _dlt_load_id VARCHAR, _dlt_id VARCHAR)""")
    con.execute("""
        INSERT INTO raw_orders.orders
        SELECT i, 'customer ' || (i % 97), i * 1.25 + 0.1, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i * 3600),
               CAST(i * 3.17 AS DECIMAL(18, 2)), '1717171717.1', md5(i::VARCHAR)
        FROM range(5000) r(i)""")
    con.execute("CREATE TABLE raw_orders._dlt_loads (load_id VARCHAR, schema_name VARCHAR, status BIGINT, inserted_at TIMESTAMPTZ)")
    con.execute("INSERT INTO raw_orders._dlt_loads VALUES ('1717171717.1', 'orders', 0, TIMESTAMPTZ '2024-06-01 12:00:00+00')")
    con.execute('CREATE VIEW staging.stg_orders__orders AS SELECT order_id, customer, amount, ordered_at, total '
                'FROM "warehouse"."raw_orders"."orders"')
    con.execute("CREATE TABLE marts.revenue AS SELECT customer, sum(total) AS total, count(*) AS orders "
                "FROM staging.stg_orders__orders GROUP BY customer")
    con.execute("CREATE TABLE dango_meta.load_history (source VARCHAR, rows BIGINT, finished_at TIMESTAMPTZ)")
    con.execute("INSERT INTO dango_meta.load_history VALUES ('orders', 5000, TIMESTAMPTZ '2024-06-01 12:00:05+00')")
    con.execute("USE memory")
    con.execute("DETACH warehouse")
    con.close()


def expected_contents(warehouse: Path) -> dict:
    proc = read_with(sys.executable, warehouse)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["tables"]


def test_the_pins_are_consistent():
    assert DRIVER_DUCKDB_VERSION == "1.5.5" and SERVING_STORAGE_VERSION == "v1.5.0"
    assert storage_version_for("1.4.4") == "v1.4.0"


@pytest.mark.parametrize("storage", [None, "latest"], ids=["default-storage", "newest-storage"])
def test_the_pinned_metabase_driver_duckdb_reads_the_serving_copy(tmp_path, storage):
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    make_warehouse(warehouse, storage)
    expected = expected_contents(warehouse)
    assert expected["raw_orders.orders"]["rows"] == 5000 and expected["marts.revenue"]["rows"] == 97

    result = publish(warehouse, serving_path(warehouse))

    proc = read_with(duckdb_python(DRIVER_DUCKDB_VERSION), serving_path(warehouse))
    assert proc.returncode == 0, f"DuckDB {DRIVER_DUCKDB_VERSION} cannot read the serving copy:\n{proc.stderr}"
    served = json.loads(proc.stdout)
    assert served["duckdb"] == DRIVER_DUCKDB_VERSION
    assert served["storage_version"] == result["storage_version"]
    assert served["tables"] == expected
    first = served["tables"]["raw_orders.orders"]["values"][1]
    assert first[:3] == [1, "customer 1", 1.35] and Decimal(first[4]) == Decimal("3.17")
    assert first[3] == 1704067200000000 + 3600 * 1_000_000  # 2024-01-01 01:00:00 UTC


def test_an_older_duckdb_reads_the_copy_publish_rewrites_for_it(tmp_path):
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    make_warehouse(warehouse, "v1.4.0")
    expected = expected_contents(warehouse)
    older = duckdb_python(OLDER_READER_DUCKDB)

    # without the rewrite: a plain copy of this warehouse does not open in DuckDB 1.3.2
    plain = tmp_path / "plain" / "warehouse.duckdb"
    plain.parent.mkdir()
    shutil.copyfile(warehouse, plain)
    refused = read_with(older, plain)
    assert refused.returncode != 0 and "version" in refused.stderr.lower(), refused.stderr

    result = publish(warehouse, serving_path(warehouse), storage_version=storage_version_for(OLDER_READER_DUCKDB))
    assert result["method"] == "rewrite" and result["storage_version"] == "v1.3.0+"

    proc = read_with(older, serving_path(warehouse))
    assert proc.returncode == 0, f"DuckDB {OLDER_READER_DUCKDB} cannot read the serving copy:\n{proc.stderr}"
    served = json.loads(proc.stdout)
    assert served["duckdb"] == OLDER_READER_DUCKDB
    assert served["tables"] == expected
    assert sorted(p.name for p in serving_path(warehouse).parent.iterdir()) == ["warehouse.duckdb"]
