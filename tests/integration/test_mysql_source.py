"""Dango's ``mysql`` source type on the real MariaDB server (127.0.0.1:3306): real dlt pipelines into a real
DuckDB warehouse, from Dango's own wizard file unchanged (tables replaced on every sync, as in Dango) and
from our blocks (whole database, by data interval, in full), with the password kept out of messages."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from dango_provider.exceptions import IngestError
from dango_provider.sources.interval import Interval
from dango_provider.sources.runner import NothingToLoad
from tests import ingest, mariadb
from tests.conftest import BIN, airflow_env, make_small_project, run

FIXTURES = Path(__file__).resolve().parents[1] / "dango_compat" / "fixtures"
DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
DAY2, DAY3 = DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)

DDL = (
    "CREATE TABLE customers (customer_id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, email VARCHAR(80), "
    "updated_at DATETIME(6) NOT NULL)",
    "CREATE TABLE orders (order_id BIGINT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(10,2) NOT NULL, "
    "status ENUM('placed','shipped','cancelled') NOT NULL, updated_at DATETIME(6) NOT NULL)",
    "CREATE TABLE events (event_id INT NOT NULL, kind VARCHAR(20) NOT NULL)",  # no primary key, no cursor
)


@pytest.fixture
def shop():
    """A fresh MariaDB database with seeded shop tables: (database, user, password, admin connection)."""
    with mariadb.temporary_database() as (database, user, password):
        admin = mariadb.connect(database)
        with admin.cursor() as cur:
            for statement in DDL:
                cur.execute(statement)
            cur.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s)", [
                (i, f"customer {i}", f"c{i}@example.com", (DAY1 if i <= 3 else DAY2).replace(tzinfo=None)
                 + timedelta(hours=i)) for i in range(1, 6)])
            cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s, %s)", [
                (100 + i, i, Decimal(f"{i}9.95"), "placed", (DAY1 if i <= 2 else DAY2).replace(tzinfo=None)
                 + timedelta(hours=10 + i)) for i in range(1, 5)])
            cur.executemany("INSERT INTO events VALUES (%s, %s)", [(1, "signup"), (2, "login"), (2, "login")])
        yield database, user, password, admin
        admin.close()


def our_project(root: Path, block: str) -> Path:
    root.mkdir(parents=True)
    (root / "sources.yml").write_text(
        'version: "1.0"\ndefaults: {start_date: 2024-03-01, retries: 0}\n'
        f"sources:\n  - name: shop\n    type: mysql\n    mysql: {block}\n")
    return root


def rows(root: Path, sql: str) -> list[tuple]:
    return ingest.query(root, sql)


def test_dangos_wizard_file_loads_unchanged_and_follows_deletes(tmp_path, shop, airflow_home):
    """Dango's wizard writes `generic_config: {credentials_env: MYSQL_CREDENTIALS}`; its sync replaces the
    tables, so a row deleted in MySQL disappears from the warehouse on the next run: here too."""
    database, user, password, admin = shop
    project = make_small_project(tmp_path / "p", "", {})
    (project / "sources.yml").unlink()  # Dango's layout: the file Dango wrote, as it is
    (project / ".dango").mkdir()
    shutil.copy(FIXTURES / "mysql__defaults.yml", project / ".dango" / "sources.yml")
    env = airflow_env(airflow_home, project, MYSQL_CREDENTIALS=mariadb.url(database, user, password))
    ingest_dag = [str(BIN / "airflow"), "dags", "test", "dango_ingest__my_mysql"]

    first = run(ingest_dag, env)
    log = first.stdout + first.stderr
    assert password not in log
    assert rows(project, "select count(*) from raw_my_mysql.customers") == [(5,)]
    assert rows(project, "select count(*) from raw_my_mysql.events") == [(3,)]
    assert rows(project, "select amount, status from raw_my_mysql.orders where order_id = 102") == [
        (Decimal("29.95"), "placed")]
    staging = project / "dbt" / "models" / "staging" / "my_mysql"
    assert {p.name for p in staging.glob("stg_*.sql")} == {
        "stg_my_mysql__customers.sql", "stg_my_mysql__orders.sql", "stg_my_mysql__events.sql"}

    with admin.cursor() as cur:
        cur.execute("DELETE FROM customers WHERE customer_id = 2")
        cur.execute("UPDATE orders SET status = 'shipped' WHERE order_id = 101")
        cur.execute("DELETE FROM events WHERE event_id = 2")
    run(ingest_dag, env)
    assert rows(project, "select customer_id from raw_my_mysql.customers order by 1") == [(1,), (3,), (4,), (5,)]
    assert rows(project, "select status from raw_my_mysql.orders where order_id = 101") == [("shipped",)]
    assert rows(project, "select count(*) from raw_my_mysql.events") == [(1,)]


def test_intervals_load_exactly_their_rows_and_full_refresh_replaces(tmp_path, shop, monkeypatch):
    database, user, password, admin = shop
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_DB", mariadb.url(database, user, password))
    root = our_project(tmp_path / "p", "{conn_id: shop_db, incremental: updated_at, tables: [customers, orders]}")

    extracted, _ = ingest.sync(root, "shop", Interval(DAY1, DAY2))
    assert extracted.row_counts == {"customers": 3, "orders": 2}
    extracted, _ = ingest.sync(root, "shop", Interval(DAY2, DAY3))
    assert extracted.row_counts == {"customers": 2, "orders": 2}
    assert rows(root, "select count(*) from raw_shop.customers") == [(5,)]
    # a re-run of day 1 (a backfill) merges on the primary key: nothing duplicated
    ingest.sync(root, "shop", Interval(DAY1, DAY2))
    assert rows(root, "select count(*), count(distinct order_id) from raw_shop.orders") == [(4, 4)]
    with pytest.raises(NothingToLoad, match="returned no rows"):
        ingest.sync(root, "shop", Interval(DAY3, DAY3 + timedelta(days=1)))

    with admin.cursor() as cur:  # deleted at the source: gone after a full refresh
        cur.execute("DELETE FROM orders WHERE order_id = 104")
    extracted, _ = ingest.sync(root, "shop", full_refresh=True)
    assert extracted.row_counts == {"customers": 5, "orders": 3}
    assert rows(root, "select order_id from raw_shop.orders order by 1") == [(101,), (102,), (103,)]
    # DATETIME has no time zone in MySQL and stays without one; DECIMAL keeps its precision
    assert rows(root, "select typeof(updated_at), typeof(amount) from raw_shop.orders limit 1") == [
        ("TIMESTAMP", "DECIMAL(10,2)")]


def test_a_wrong_password_names_source_and_cause_without_the_password(tmp_path, shop, monkeypatch):
    database, user, password, _ = shop
    wrong = password + "-wrong"
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_DB", mariadb.url(database, user, wrong))
    root = our_project(tmp_path / "p", "{conn_id: shop_db}")
    with pytest.raises(IngestError) as info:
        ingest.sync(root, "shop")
    message = str(info.value)
    assert "source 'shop'" in message and "Access denied" in message and user in message
    assert wrong not in message and password not in message


def test_a_dango_projects_env_file_reaches_the_task_through_dango_secrets_import(tmp_path, shop, airflow_home):
    """Dango keeps MYSQL_CREDENTIALS in .env; `dango secrets import` stores it as an Airflow connection, the
    task reads it from there, and no command prints it. `dango validate` reports where it is set."""
    database, user, password, _ = shop
    project = make_small_project(tmp_path / "p", "", {})
    (project / "sources.yml").unlink()
    (project / ".dango").mkdir()
    shutil.copy(FIXTURES / "mysql__defaults.yml", project / ".dango" / "sources.yml")
    secret_url = mariadb.url(database, user, password)
    (project / ".env").write_text(f"# written by Dango\nMYSQL_CREDENTIALS={secret_url}\nUNUSED_TOKEN=abc123\n")
    env = airflow_env(airflow_home, project)
    env.pop("MYSQL_CREDENTIALS", None)
    dango = str(BIN / "dango")
    try:
        before = run([dango, "validate", str(project)], env).stdout
        assert ("credentials: source 'my_mysql': environment variable MYSQL_CREDENTIALS: not set here (the Airflow "
                "workers need it; `dango secrets import` stores a Dango project's .env entry)") in before

        imported = run([dango, "secrets", "import", "--project", str(project)], env).stdout
        assert imported.splitlines() == [
            "created Airflow connection 'mysql_credentials' from MYSQL_CREDENTIALS (used by my_mysql)",
            "skipped UNUSED_TOKEN: no source names it (--all imports it anyway)"]
        after = run([dango, "validate", str(project)], env).stdout
        assert ("credentials: source 'my_mysql': environment variable MYSQL_CREDENTIALS: stored as Airflow "
                "connection 'mysql_credentials'") in after

        loaded = run([str(BIN / "airflow"), "dags", "test", "dango_ingest__my_mysql"], env)
        assert rows(project, "select count(*) from raw_my_mysql.orders") == [(4,)]
        for output in (before, imported, after, loaded.stdout + loaded.stderr):
            assert password not in output and secret_url not in output
        assert "sources.yml" not in imported and secret_url not in (project / ".dango" / "sources.yml").read_text()
    finally:
        run([str(BIN / "airflow"), "connections", "delete", "mysql_credentials"], env, check=False)
