"""Database sources on the real PostgreSQL server: an e-commerce OLTP schema loaded by real dlt pipelines
into a real DuckDB warehouse, by whole schema, by data interval, from the stored cursor and in full."""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import IngestError, MissingCredentialsError
from dango_provider.sources.interval import Interval
from dango_provider.sources.pipeline import pipeline_for
from dango_provider.sources.runner import NothingToLoad, extract_source
from tests import ingest, pg

UTC = UTC
DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
DAY4 = DAY1 + timedelta(days=3)
PASSWORD = "Zq81-not-a-real-secret-7731"
TABLES = ("customers", "order_lines", "orders", "payments", "products")

DDL = """
CREATE TABLE {s}.customers (customer_id integer PRIMARY KEY, name text NOT NULL, email text,
    updated_at timestamptz NOT NULL);
CREATE TABLE {s}.products (product_id integer PRIMARY KEY, sku text NOT NULL, price numeric(10, 2) NOT NULL,
    updated_at timestamptz NOT NULL);
CREATE TABLE {s}.orders (order_id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES {s}.customers,
    status text NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE {s}.order_lines (order_id integer NOT NULL REFERENCES {s}.orders, line_no integer NOT NULL,
    product_id integer NOT NULL REFERENCES {s}.products, quantity integer NOT NULL, updated_at timestamptz NOT NULL,
    PRIMARY KEY (order_id, line_no));
CREATE TABLE {s}.payments (payment_id bigint PRIMARY KEY, order_id integer NOT NULL REFERENCES {s}.orders,
    amount numeric(12, 2) NOT NULL, updated_at timestamptz NOT NULL);
"""

# rows per day of updated_at: day 1 is [DAY1, DAY2), day 2 is [DAY2, DAY3)
DAY1_ROWS = {"customers": 7, "products": 4, "orders": 6, "order_lines": 12, "payments": 6}
DAY2_ROWS = {"customers": 5, "products": 2, "orders": 4, "order_lines": 8, "payments": 3}
ALL_ROWS = {t: DAY1_ROWS[t] + DAY2_ROWS[t] for t in TABLES}


def _at(day_index: int, hour: int) -> datetime:
    return DAY1 + timedelta(days=day_index, hours=hour)


def _seed(connection, schema: str) -> None:
    with connection.cursor() as cur:
        cur.execute(DDL.format(s=schema))
        # customer 8 is updated exactly at DAY2 00:00: it belongs to day 2 (intervals are [start, end))
        customers = [(i, f"customer {i}", f"c{i}@example.com", _at(0, i) if i <= 7 else _at(1, i - 8))
                     for i in range(1, 13)]
        products = [(i, f"SKU-{i:03d}", Decimal(f"{i}9.90"), _at(0, i) if i <= 4 else _at(1, i)) for i in range(1, 7)]
        orders = [(i, (i % 12) + 1, "placed", _at(0, 10 + i) if i <= 6 else _at(1, 10 + i)) for i in range(1, 11)]
        lines = [(o, n, ((o + n) % 6) + 1, n * 2, orders[o - 1][3]) for o in range(1, 11) for n in (1, 2)]
        payments = [(1000 + o, o, Decimal(f"{o}0.50"), orders[o - 1][3] + timedelta(minutes=5)) for o in range(1, 10)]
        cur.executemany(f"INSERT INTO {schema}.customers VALUES (%s, %s, %s, %s)", customers)
        cur.executemany(f"INSERT INTO {schema}.products VALUES (%s, %s, %s, %s)", products)
        cur.executemany(f"INSERT INTO {schema}.orders VALUES (%s, %s, %s, %s)", orders)
        cur.executemany(f"INSERT INTO {schema}.order_lines VALUES (%s, %s, %s, %s, %s)", lines)
        cur.executemany(f"INSERT INTO {schema}.payments VALUES (%s, %s, %s, %s)", payments)


@pytest.fixture(scope="module")
def database():
    with pg.temporary_database() as name:
        yield name


@pytest.fixture
def shop(database):
    """A fresh PostgreSQL schema with the seeded shop tables: (database, schema, admin connection)."""
    schema = f"shop_{uuid.uuid4().hex[:8]}"
    connection = pg.connect(database)
    with connection.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    _seed(connection, schema)
    yield database, schema, connection
    connection.close()


def make_project(root: Path, block: str, *, source_type: str = "sql_database", extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sources.yml").write_text(
        'version: "1.0"\n'
        "defaults: {start_date: 2024-03-01, retries: 0}\n"
        "sources:\n"
        "  - name: shop\n"
        f"    type: {source_type}\n"
        f"{extra}"
        f"    {source_type}: {block}\n"
    )
    return root


def sync(root: Path, interval: Interval | None = None, *, full_refresh: bool = False, work_dir: Path | None = None):
    return ingest.sync(root, "shop", interval, full_refresh=full_refresh, work_dir=work_dir)[0]


rows = ingest.query


def counts(root: Path) -> dict[str, int]:
    return {t: rows(root, f"select count(*) from raw_shop.{t}")[0][0] for t in TABLES}


@pytest.fixture
def connection_id(shop, monkeypatch) -> str:
    database, _, _ = shop
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_DB", pg.url(database, password=PASSWORD))
    return "shop_db"


def test_whole_schema_loads_every_table_with_its_primary_key(tmp_path, shop, connection_id):
    _, schema, _ = shop
    root = make_project(tmp_path, f"{{conn_id: {connection_id}, schema: {schema}}}")

    extracted = sync(root)

    assert extracted.row_counts == ALL_ROWS
    assert counts(root) == ALL_ROWS
    project = load_project(root)
    dlt_schema = pipeline_for(project, project.source("shop")).default_schema
    keys = {t: [c for c, col in dlt_schema.get_table_columns(t).items() if col.get("primary_key")] for t in TABLES}
    assert keys == {"customers": ["customer_id"], "order_lines": ["order_id", "line_no"], "orders": ["order_id"],
                    "payments": ["payment_id"], "products": ["product_id"]}
    assert {t: dlt_schema.get_table(t)["write_disposition"] for t in TABLES} == dict.fromkeys(TABLES, "merge")
    assert rows(root, "select sku, price, updated_at from raw_shop.products where product_id = 2") == [
        ("SKU-002", Decimal("29.90"), _at(0, 2))]
    assert extracted.source_schema["payments"]["updated_at"] == "timestamp with time zone"
    # no cursor: a second run reads every table again and merges it on the primary keys
    assert sync(root).row_counts == ALL_ROWS
    assert counts(root) == ALL_ROWS


def test_dango_postgres_block_with_a_url_from_the_environment(tmp_path, shop, monkeypatch):
    database, schema, _ = shop
    monkeypatch.setenv("SHOP_DATABASE_URL", pg.url(database, password=PASSWORD))
    root = make_project(tmp_path, f"{{credentials_env: SHOP_DATABASE_URL, schema: {schema}, "
                                  "table_names: [customers, orders]}", source_type="postgres")

    assert sync(root).row_counts == {"customers": 12, "orders": 10}
    assert rows(root, "select count(*) from information_schema.tables where table_schema = 'raw_shop' "
                      "and table_name not like '_dlt%'") == [(2,)]


def test_bounded_intervals_load_exactly_their_rows_and_rerun_idempotently(tmp_path, shop, connection_id):
    _, schema, admin = shop
    root = make_project(tmp_path, f"{{conn_id: {connection_id}, schema: {schema}, incremental: updated_at}}")

    assert sync(root, Interval(DAY1, DAY2)).row_counts == DAY1_ROWS
    assert counts(root) == DAY1_ROWS
    assert rows(root, "select max(customer_id) from raw_shop.customers") == [(7,)]  # DAY2 00:00 is not day 1
    assert sync(root, Interval(DAY2, DAY3)).row_counts == DAY2_ROWS
    assert counts(root) == ALL_ROWS

    # rows updated on day 3 are read by day 3's interval and merged in place
    with admin.cursor() as cur:
        cur.execute(f"UPDATE {schema}.orders SET status = 'shipped', updated_at = %s WHERE order_id IN (2, 9)",
                    [_at(2, 1)])
        cur.execute(f"UPDATE {schema}.order_lines SET quantity = 99, updated_at = %s "
                    "WHERE order_id = 2 AND line_no = 1", [_at(2, 2)])
    assert sync(root, Interval(DAY3, DAY4)).row_counts == {"orders": 2, "order_lines": 1}
    assert counts(root) == ALL_ROWS
    assert rows(root, "select order_id, status from raw_shop.orders where status <> 'placed' order by 1") == [
        (2, "shipped"), (9, "shipped")]

    # re-running day 1 (a backfill) reads its rows again: same table, nothing duplicated or rolled back
    before = rows(root, "select * exclude (_dlt_load_id) from raw_shop.orders order by order_id")
    rerun = sync(root, Interval(DAY1, DAY2))
    assert rerun.row_counts == {"customers": 7, "products": 4, "orders": 5, "order_lines": 11, "payments": 6}
    assert counts(root) == ALL_ROWS
    assert rows(root, "select * exclude (_dlt_load_id) from raw_shop.orders order by order_id") == before
    assert rows(root, "select quantity from raw_shop.order_lines where order_id = 2 and line_no = 1") == [(99,)]

    # an interval without changes loads nothing
    with pytest.raises(NothingToLoad, match="returned no rows"):
        sync(root, Interval(DAY4, DAY4 + timedelta(days=1)))


def test_lookback_days_reads_the_days_before_the_interval_again(tmp_path, shop, connection_id):
    _, schema, _ = shop
    root = make_project(tmp_path, f"{{conn_id: {connection_id}, schema: {schema}, incremental: updated_at}}",
                        extra="    lookback_days: 1\n")
    assert sync(root, Interval(DAY1, DAY2)).row_counts == DAY1_ROWS
    # day 2's run reads day 1 again (late changes) and merges it: every row once
    assert sync(root, Interval(DAY2, DAY3)).row_counts == ALL_ROWS
    assert counts(root) == ALL_ROWS


def test_unbounded_runs_continue_from_the_stored_cursor(tmp_path, shop, connection_id):
    _, schema, admin = shop
    with admin.cursor() as cur:  # before the start date (2024-03-01): never read incrementally
        cur.execute(f"INSERT INTO {schema}.customers VALUES (99, 'old', null, '2024-02-01T00:00:00Z')")
    root = make_project(tmp_path, f"{{conn_id: {connection_id}, schema: {schema}, incremental: updated_at, "
                                  "tables: [customers, orders]}")

    assert sync(root).row_counts == {"customers": 12, "orders": 10}
    # a bounded run in between reads its interval and leaves the stored cursor alone
    assert sync(root, Interval(DAY1, DAY2)).row_counts == {"customers": 7, "orders": 6}

    with admin.cursor() as cur:
        cur.execute(f"INSERT INTO {schema}.customers VALUES (13, 'new', 'n@example.com', %s), "
                    "(14, 'newer', null, %s)", [_at(2, 3), _at(2, 4)])
        cur.execute(f"UPDATE {schema}.orders SET status = 'cancelled', updated_at = %s WHERE order_id = 4",
                    [_at(2, 5)])
    assert sync(root).row_counts == {"customers": 2, "orders": 1}
    assert rows(root, "select count(*), max(customer_id) from raw_shop.customers") == [(14, 14)]
    assert rows(root, "select status from raw_shop.orders where order_id = 4") == [("cancelled",)]
    with pytest.raises(NothingToLoad):
        sync(root)


def test_extracts_on_other_workers_continue_from_the_cursor_the_last_load_committed(tmp_path, shop, connection_id):
    """Each extract runs in its worker's own working directory (one on another file system); the cursor
    a load committed reaches the next extract wherever it runs, and one that never loaded moves nothing."""
    _, schema, admin = shop
    root = make_project(tmp_path / "project", f"{{conn_id: {connection_id}, schema: {schema}, incremental: updated_at, "
                                               "tables: [customers, orders]}")
    worker_a, worker_b = Path(tempfile.mkdtemp(dir="/dev/shm")), tmp_path / "worker_b"
    try:
        assert sync(root, work_dir=worker_a).row_counts == {"customers": 12, "orders": 10}
        with admin.cursor() as cur:
            cur.execute(f"INSERT INTO {schema}.customers VALUES (13, 'new', 'n@example.com', %s)", [_at(2, 3)])
        assert sync(root, work_dir=worker_b).row_counts == {"customers": 1}
        with pytest.raises(NothingToLoad):  # worker a's own state is older: the committed one counts
            sync(root, work_dir=worker_a)
        project = load_project(root)
        hook = ingest.DuckDBHook(project.warehouse_path, lock_timeout=30)
        with admin.cursor() as cur:
            cur.execute(f"INSERT INTO {schema}.customers VALUES (14, 'newer', null, %s)", [_at(2, 4)])
        # extracted on worker b, never loaded: the next extract on worker a reads the row again
        extract_source(project, project.source("shop"), hook, run_id="never_loaded", work_dir=worker_b)
        assert sync(root, work_dir=worker_a).row_counts == {"customers": 1}
        assert rows(root, "select count(*), count(distinct customer_id), max(customer_id) from raw_shop.customers") \
            == [(14, 14, 14)]
        assert not list((worker_a / "dango_shop").glob("load/normalized/*")), "packages left on worker a"
    finally:
        shutil.rmtree(worker_a, ignore_errors=True)


def test_full_refresh_reads_everything_and_replaces_the_tables(tmp_path, shop, connection_id):
    _, schema, admin = shop
    root = make_project(tmp_path, f"{{conn_id: {connection_id}, schema: {schema}, incremental: updated_at, "
                                  "tables: [customers, {name: payments, write_disposition: append}]}")
    assert sync(root, Interval(DAY1, DAY2)).row_counts == {"customers": 7, "payments": 6}
    assert sync(root, Interval(DAY1, DAY2)).row_counts == {"customers": 7, "payments": 6}
    assert rows(root, "select count(*) from raw_shop.payments") == [(12,)]  # append: the re-run appended again

    with admin.cursor() as cur:  # a row deleted at the source disappears with a full refresh
        cur.execute(f"DELETE FROM {schema}.payments WHERE payment_id = 1001")
    assert sync(root, full_refresh=True).row_counts == {"customers": 12, "payments": 8}
    assert rows(root, "select count(*), count(distinct payment_id), min(payment_id) from raw_shop.payments") == [
        (8, 8, 1002)]
    assert rows(root, "select count(*) from raw_shop.customers") == [(12,)]


def _assert_secret_free(message: str, caplog) -> None:
    assert PASSWORD not in message
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()
        assert PASSWORD not in str(record.args)


def test_refused_connection_names_source_and_cause_without_the_password(tmp_path, shop, monkeypatch, caplog):
    database, schema, _ = shop
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_DB", pg.url(database, password=PASSWORD, port=1))
    root = make_project(tmp_path, f"{{conn_id: shop_db, schema: {schema}}}")

    with caplog.at_level(logging.DEBUG), pytest.raises(IngestError) as info:
        sync(root)
    message = str(info.value)
    assert message.startswith(f"source 'shop': cannot connect to schema '{schema}' of "
                              f"postgresql+psycopg2://postgres:***@127.0.0.1:1/{database}: OperationalError: ")
    assert "Connection refused" in message
    _assert_secret_free(message, caplog)


def test_missing_table_names_source_table_and_what_exists(tmp_path, shop, connection_id, caplog):
    database, schema, _ = shop
    root = make_project(tmp_path, f"{{conn_id: {connection_id}, schema: {schema}, tables: [customers, refunds]}}")

    with caplog.at_level(logging.DEBUG), pytest.raises(IngestError) as info:
        sync(root)
    message = str(info.value)
    assert message == (
        f"source 'shop': table 'refunds' (in sql_database.tables) not found in schema '{schema}' of "
        f"postgresql+psycopg2://postgres:***@127.0.0.1:5432/{database}; tables there: "
        "customers, order_lines, orders, payments, products")
    _assert_secret_free(message, caplog)
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()


def test_missing_cursor_column_and_missing_schema_are_named(tmp_path, shop, connection_id):
    database, schema, _ = shop
    root = make_project(tmp_path, f"{{conn_id: {connection_id}, schema: {schema}, "
                                  "tables: [{name: orders, incremental: modified_at}]}")
    with pytest.raises(IngestError, match="^source 'shop': table 'orders' has no column 'modified_at' "
                                          r"\(its incremental cursor\); columns: order_id, customer_id, status, "
                                          "updated_at$"):
        sync(root)
    root = make_project(tmp_path / "other", f"{{conn_id: {connection_id}, schema: no_such_schema}}")
    with pytest.raises(IngestError, match=f"^source 'shop': schema 'no_such_schema' does not exist in "
                                          f"postgresql\\+psycopg2://postgres:\\*\\*\\*@127.0.0.1:5432/{database}; "
                                          f"schemas there: .*{schema}"):
        sync(root)


def test_credentials_that_are_missing_or_not_a_url_are_named_without_echoing_them(tmp_path, shop, monkeypatch):
    _, schema, _ = shop
    root = make_project(tmp_path, f"{{credentials_env: SHOP_URL_NOT_SET, schema: {schema}}}")
    monkeypatch.delenv("SHOP_URL_NOT_SET", raising=False)
    with pytest.raises(MissingCredentialsError, match="^source 'shop': sql_database.credentials_env names the "
                                                      "environment variable 'SHOP_URL_NOT_SET', which is not set"):
        sync(root)

    monkeypatch.setenv("SHOP_URL_NOT_SET", f"host=127.0.0.1 password={PASSWORD}")
    with pytest.raises(MissingCredentialsError) as info:
        sync(root)
    assert str(info.value) == (
        "source 'shop': environment variable 'SHOP_URL_NOT_SET' (sql_database.credentials_env) does not hold a "
        "SQLAlchemy URL; expected for example postgresql://user:password@host:5432/database")

    root = make_project(tmp_path / "conn", f"{{conn_id: shop_conn_not_defined, schema: {schema}}}")
    with pytest.raises(MissingCredentialsError, match="Airflow connection 'shop_conn_not_defined' is not defined"):
        sync(root)


def test_connectorx_backend_names_the_missing_package(tmp_path, shop, connection_id):
    import importlib.util

    if importlib.util.find_spec("connectorx") is not None:
        pytest.skip("connectorx is installed here; the error for a missing package cannot occur")
    _, schema, _ = shop
    root = make_project(tmp_path, f"{{conn_id: {connection_id}, schema: {schema}, backend: connectorx}}")
    with pytest.raises(IngestError, match="^source 'shop': sql_database.backend is connectorx, but the Python "
                                          "package 'connectorx' is not installed"):
        sync(root)


def test_date_naive_timestamp_and_numeric_cursors(tmp_path, shop, connection_id):
    _, schema, admin = shop
    with admin.cursor() as cur:
        cur.execute(f"CREATE TABLE {schema}.visits (visit_id bigint PRIMARY KEY, visited_on date NOT NULL, "
                    "logged_at timestamp NOT NULL)")
        # 00:00, 10:00, 20:00 on day 1; 06:00, 16:00 on day 2; 02:00 on day 3
        visits = [(i, DAY1 + timedelta(hours=10 * i)) for i in range(6)]
        cur.executemany(f"INSERT INTO {schema}.visits VALUES (%s, %s, %s)",
                        [(i, at.date(), at.replace(tzinfo=None)) for i, at in visits])
    day1 = Interval(DAY1, DAY2)
    by_date = make_project(tmp_path / "date", f"{{conn_id: {connection_id}, schema: {schema}, "
                                              "tables: [{name: visits, incremental: visited_on}]}")
    assert sync(by_date, day1).row_counts == {"visits": 3}
    # an interval inside a day reads that whole day
    assert sync(by_date, Interval(DAY2 + timedelta(hours=12), DAY2 + timedelta(hours=13))).row_counts == {"visits": 2}

    naive = make_project(tmp_path / "naive", f"{{conn_id: {connection_id}, schema: {schema}, "
                                             "tables: [{name: visits, incremental: logged_at}]}")
    assert sync(naive, Interval(DAY1 + timedelta(hours=10), DAY2 + timedelta(hours=6))).row_counts == {"visits": 2}
    assert rows(naive, "select visit_id from raw_shop.visits order by 1") == [(1,), (2,)]

    numeric = make_project(tmp_path / "numeric", f"{{conn_id: {connection_id}, schema: {schema}, "
                                                 "tables: [{name: visits, incremental: visit_id}]}")
    assert sync(numeric, day1).row_counts == {"visits": 6}  # an id is no time: it continues from the stored cursor
    with admin.cursor() as cur:
        cur.execute(f"INSERT INTO {schema}.visits VALUES (6, '2024-01-01', '2024-01-01T00:00:00')")
    assert sync(numeric, day1).row_counts == {"visits": 1}
    assert rows(numeric, "select count(*) from raw_shop.visits") == [(7,)]
