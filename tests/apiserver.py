"""A real ``airflow api-server`` process for the plugin suites (SimpleAuthManager, SQLite metadata DB).

``api_server(...)`` starts it on a free port with users from ``[core] simple_auth_manager_users`` and
their passwords in a file (``simple_auth_manager_passwords_file``), waits until it answers, and stops
the whole process group on exit (the server forks workers). ``make_served_project`` and
``generate_served_docs`` build the project both plugin suites serve.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import BIN, airflow_env, run, stop_group


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ApiServer:
    url: str
    env: dict[str, str]
    log: Path
    passwords: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def token(self, username: str) -> str:
        """A JWT for ``username`` from ``POST /auth/token`` (SimpleAuthManager's login endpoint)."""
        response = httpx.post(f"{self.url}/auth/token", json={"username": username,
                                                              "password": self.passwords[username]}, timeout=60)
        assert response.status_code == 201, response.text
        return response.json()["access_token"]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def prepare_airflow_home(home: Path, project: Path, *, trigger: tuple[str, ...] = ()) -> Path:
    """A migrated metadata database in ``home`` that knows ``project``'s DAGs, with a queued run of each
    DAG in ``trigger``."""
    env = airflow_env(home, project)
    run([str(BIN / "airflow"), "db", "migrate"], env)
    run([str(BIN / "airflow"), "dags", "reserialize"], env)
    for dag_id in trigger:
        run([str(BIN / "airflow"), "dags", "trigger", dag_id], env)
    return home


@contextmanager
def api_server(airflow_home: Path, workdir: Path, project: Path | None, *, users: dict[str, str],
               timeout: float = 240, **extra_env: str) -> Iterator[ApiServer]:
    """Run ``airflow api-server`` for the duration of the block.

    :param airflow_home: an Airflow home whose metadata database is migrated
    :param workdir: where the passwords file and the server's log go
    :param users: username -> role (ADMIN, OP, USER, VIEWER); each gets a random password
    :param extra_env: more environment variables of the server (``AIRFLOW__SECTION__KEY=...``)
    """
    port = free_port()
    passwords = {name: secrets.token_urlsafe(12) for name in users}
    passwords_file = workdir / "simple_auth_manager_passwords.json"
    passwords_file.write_text(json.dumps(passwords))
    env = airflow_env(
        airflow_home, project,
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=",".join(f"{name}:{role}" for name, role in users.items()),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords_file),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API__EXPOSE_CONFIG="False",
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(16),
        **extra_env,
    )
    server = ApiServer(url=f"http://127.0.0.1:{port}", env=env, log=workdir / "api-server.log", passwords=passwords)
    with open(server.log, "ab") as out:
        server.process = subprocess.Popen(
            [str(BIN / "airflow"), "api-server", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.process.poll() is not None:
                raise AssertionError(f"airflow api-server exited {server.process.returncode}\n{server.log_text()[-6000:]}")
            try:
                if httpx.get(f"{server.url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"airflow api-server did not answer within {timeout:.0f}s\n{server.log_text()[-6000:]}")
            time.sleep(1)
        yield server
    finally:
        stop_group(server.process)


# --- the project the plugin suites serve --------------------------------------------------------

SERVED_SOURCES = """\
version: "1.0"
defaults: {retries: 0, freshness: {warn_after: 6h, error_after: 1d}}
sources:
  - name: orders
    type: csv
    schedule: "0 6 * * *"
    primary_key: order_id
    csv: {directory: data/orders}
  - name: customers
    type: csv
    description: Customer master data from the CRM export
    primary_key: id
    freshness: {warn_after: 1h, error_after: 2d}
    csv: {directory: data/customers}
  - name: payments
    type: stripe
    stripe: {stripe_secret_key_env: DANGO_TEST_STRIPE_KEY}
  - name: replica
    type: sql_database
    sql_database: {conn_id: shop_replica, schema: public, tables: [items]}
"""

SERVED_FILES = {
    "data/orders/orders_1.csv": "order_id,amount\n1,10.0\n2,20.0\n3,30.0\n",
    "data/customers/customers_1.csv": "id,email,name\n1,ann@example.com,Ann\n2,bob@example.com,Bob\n",
    "dbt/models/marts/order_totals.sql": "select count(*) as orders, sum(amount) as amount from raw_orders.orders\n",
}


def _load(project_dir: Path, name: str) -> None:
    from dango_provider.config.loader import load_project
    from dango_provider.hooks.duckdb import DuckDBHook
    from dango_provider.sources.runner import extract_source, load_source

    project = load_project(project_dir)
    source = project.source(name)
    warehouse = DuckDBHook(project.warehouse_path, lock_timeout=60)
    extracted = extract_source(project, source, warehouse)
    load_source(project, source, warehouse, owner=f"test {name}", extracted=extracted.__dict__)


def make_served_project(root: Path) -> Path:
    """A project whose two CSV sources were loaded for real (orders twice: 3 rows, then 2), with a
    blocked breaking schema change and a PII finding on ``customers``, published as the serving copy.
    Two more sources (stripe, sql_database) name credentials and were never loaded."""
    import duckdb

    from dango_provider.config.loader import load_project
    from dango_provider.core import governance_meta
    from dango_provider.core.drift_check import check_drift
    from dango_provider.core.governance_state import block_for_drift
    from dango_provider.core.snapshot import publish, serving_path
    from dango_provider.sources.pipeline import source_state_dir
    from tests.conftest import make_small_project

    make_small_project(root, SERVED_SOURCES, SERVED_FILES)
    _load(root, "orders")
    (root / "data" / "orders" / "orders_2.csv").write_text("order_id,amount\n3,35.0\n4,40.0\n")
    _load(root, "orders")
    _load(root, "customers")

    project = load_project(root)
    con = duckdb.connect(str(project.warehouse_path))
    try:
        first = {"customers": {"id": "bigint", "email": "varchar", "name": "varchar"}}
        check_drift(con, "customers", first, on_additive="evolve", on_breaking="block", run_id="manual__1")
        outcome = check_drift(con, "customers", {"customers": {"id": "bigint", "email": "varchar"}},
                              on_additive="evolve", on_breaking="block", run_id="manual__2")
        assert outcome.blocked, outcome
        governance_meta.record_pii(con, "customers", [
            {"table": "customers", "column": "email", "entity": "EMAIL_ADDRESS", "score": 0.95, "share": 1.0,
             "sample_size": 2, "evidence": "values and column name", "action": "report"}], "manual__1")
    finally:
        con.close()
    block_for_drift(source_state_dir(project, project.source("customers")), outcome.breaking, outcome.pending_schema)
    publish(project.warehouse_path, serving_path(project.warehouse_path))
    return root


def generate_served_docs(root: Path) -> Path:
    """Run the real ``dbt docs generate`` of the project and publish the site where the plugin serves it."""
    from dango_provider.config.loader import load_project
    from dango_provider.core.dbt_docs import generate_docs
    from dango_provider.core.naming import Naming
    from dango_provider.hooks.warehouse import warehouse_for

    project = load_project(root)
    warehouse = warehouse_for(project, lock_timeout=60)
    with warehouse.write_lock("test: dbt docs"):
        generate_docs(project.dbt_dir, warehouse.dbt_env(), Naming.docs_dir(project.warehouse_path),
                      target=project.config.dbt.target)
    return Naming.docs_dir(project.warehouse_path)


def overview_of(root: Path) -> tuple[dict, str]:
    """The plugin's overview of a project (data and page), built by the code the app's ``/dango/`` runs."""
    from dango_provider.config.loader import load_project
    from dango_provider.plugins.overview import collect_overview
    from dango_provider.plugins.rendering import render

    overview = collect_overview(load_project(root))
    links = {"docs": "/dango/docs/", "api": "/dango/api/overview", "dags": "/dags", "metabase": None}
    return overview, render("overview.html", ov=overview, chart="", links=links, framed=False)
