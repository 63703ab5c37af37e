"""A source run with a known secret under real Airflow (`airflow dags test`): the secret appears in no
log line, no XCom, no rendered template field and no other row of Airflow's metadata database."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from tests.conftest import BIN, airflow_env, make_small_project, run
from tests.pg import temporary_database, url
from tests.servers.saas import SaasServer

pytestmark = pytest.mark.slow

API_TOKEN = "sk_live_51DangoAirflowSecret7c2e"
DB_PASSWORD = "pg-Secret-Password-4b1d9"


def _metadata_rows_containing(home, secret: str) -> list[tuple[str, str]]:
    """(table, column) of every text value in Airflow's SQLite database that contains ``secret``."""
    con = sqlite3.connect(home / "airflow.db")
    found = []
    try:
        for (table,) in con.execute("select name from sqlite_master where type = 'table'").fetchall():
            columns = [row[1] for row in con.execute(f'pragma table_info("{table}")').fetchall()]
            for column in columns:
                hit = con.execute(
                    f'select 1 from "{table}" where cast("{column}" as text) like ? limit 1', (f"%{secret}%",)
                ).fetchone()
                if hit:
                    found.append((table, column))
    finally:
        con.close()
    return found


def _log_files_containing(home, secret: str) -> list[str]:
    return [str(p) for p in (home / "logs").rglob("*")
            if p.is_file() and secret in p.read_text(errors="replace")]


def test_api_token_and_database_password_never_leave_the_worker(tmp_path, airflow_home):
    created = int(datetime(2024, 3, 1, 12, tzinfo=UTC).timestamp())
    with SaasServer(token=API_TOKEN) as server, temporary_database() as database:
        server.stripe = {"customers": [{"id": f"cus_{i}", "object": "customer", "created": created + i,
                                        "email": f"c{i}@example.com"} for i in range(5)]}
        from tests.pg import connect

        con = connect(database)
        with con.cursor() as cur:
            cur.execute("create table accounts (id int primary key, name text, updated_at timestamptz)")
            cur.execute("insert into accounts values (1, 'a', '2024-03-01 10:00+00'), (2, 'b', '2024-03-01 11:00+00')")
        con.close()
        project = make_small_project(tmp_path / "project", (
            "version: '1.0'\n"
            "defaults: {retries: 0, start_date: 2024-03-01}\n"
            "sources:\n"
            "  - name: payments\n"
            "    type: stripe\n"
            f"    stripe: {{stripe_secret_key_env: DANGO_TEST_STRIPE_KEY, base_url: '{server.url}/stripe/v1',"
            " endpoints: [customers]}\n"
            "  - name: crm\n"
            "    type: sql_database\n"
            "    sql_database: {conn_id: crm_db, schema: public, tables: [accounts]}\n"), {})
        env = airflow_env(airflow_home, project, DANGO_TEST_STRIPE_KEY=API_TOKEN,
                          AIRFLOW_CONN_CRM_DB=url(database, password=DB_PASSWORD))
        outputs = []
        for dag_id in ("dango_ingest__payments", "dango_ingest__crm"):
            proc = run([str(BIN / "airflow"), "dags", "test", dag_id], env)
            outputs.append(proc.stdout + proc.stderr)
        full = run([str(BIN / "airflow"), "dags", "test", "dango_ingest__payments",
                    "--conf", '{"full_refresh": true}'], env)
        outputs.append(full.stdout + full.stderr)
        assert any(r.headers.get("authorization") == f"Bearer {API_TOKEN}" for r in server.requests_to("/stripe/"))

    text = "\n".join(outputs)
    assert "customers: 5 rows loaded" in text or "table customers: 5 rows" in text
    assert "table accounts: 2 rows" in text
    for secret in (API_TOKEN, DB_PASSWORD):
        assert secret not in text, "a secret was printed by `airflow dags test`"
        assert _log_files_containing(airflow_home, secret) == []
        assert _metadata_rows_containing(airflow_home, secret) == []
    # the runs did record XComs and rendered fields: the search above looked at real rows
    con = sqlite3.connect(airflow_home / "airflow.db")
    try:
        xcoms = con.execute("select count(*) from xcom where dag_id in ('dango_ingest__payments', 'dango_ingest__crm')"
                            ).fetchone()[0]
        rendered = con.execute("select count(*) from rendered_task_instance_fields "
                               "where dag_id = 'dango_ingest__payments'").fetchone()[0]
    finally:
        con.close()
    assert xcoms > 0 and rendered > 0
