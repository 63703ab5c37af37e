"""Fixtures of the Metabase tests: the Metabase stand-in as a process, and a real published warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dango_provider.core.snapshot import publish, serving_path
from dango_provider.metabase.settings import MetabaseSettings
from tests.servers.metabase import MetabaseProcess

EMAIL = "admin@example.com"
PASSWORD = "Tr0ub4dor-dango-7"

#: the tables users see, and dlt's and dango_meta's, which the set-up hides
VISIBLE = {("raw_orders", "orders"), ("staging", "stg_orders__orders"), ("marts", "revenue")}
INTERNAL = {("raw_orders", "_dlt_loads"), ("raw_orders", "_dlt_pipeline_state"), ("raw_orders", "_dlt_version"),
            ("dango_meta", "load_history")}


def build_warehouse(path: Path, *extra_sql: str) -> Path:
    """A small warehouse shaped like a dango one (raw tables with dlt's, a staging view, a mart, dango_meta)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw_orders; CREATE SCHEMA IF NOT EXISTS staging; "
                    "CREATE SCHEMA IF NOT EXISTS marts; CREATE SCHEMA IF NOT EXISTS dango_meta")
        con.execute("CREATE OR REPLACE TABLE raw_orders.orders AS SELECT range AS order_id, 'c' || (range % 7) AS customer, "
                    "range * 2.5 AS amount FROM range(50)")
        for table in ("_dlt_loads", "_dlt_pipeline_state", "_dlt_version"):
            con.execute(f"CREATE OR REPLACE TABLE raw_orders.{table} (load_id VARCHAR)")
        con.execute("CREATE OR REPLACE VIEW staging.stg_orders__orders AS SELECT * FROM raw_orders.orders")
        con.execute("CREATE OR REPLACE TABLE marts.revenue AS SELECT customer, sum(amount) AS amount "
                    "FROM staging.stg_orders__orders GROUP BY customer")
        con.execute("CREATE OR REPLACE TABLE dango_meta.load_history (source VARCHAR, rows BIGINT)")
        for sql in extra_sql:
            con.execute(sql)
    finally:
        con.close()
    return path


def publish_warehouse(warehouse: Path) -> Path:
    publish(warehouse, serving_path(warehouse))
    return serving_path(warehouse)


@pytest.fixture
def metabase():
    server = MetabaseProcess()
    yield server
    server.stop()


@pytest.fixture
def warehouse(tmp_path) -> Path:
    return build_warehouse(tmp_path / "project" / "data" / "warehouse.duckdb")


@pytest.fixture
def serving(warehouse) -> Path:
    return publish_warehouse(warehouse)


def make_settings(url: str, **overrides) -> MetabaseSettings:
    values = {"base_url": url, "email": EMAIL, "password": PASSWORD, "backoff_initial": 0.05, "backoff_max": 0.4,
              "health_timeout": 20.0, "sync_timeout": 20.0, "request_timeout": 10.0}
    return MetabaseSettings(**{**values, **overrides})
