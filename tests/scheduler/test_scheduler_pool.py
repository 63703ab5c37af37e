"""A real Airflow deployment (PostgreSQL metadata, LocalExecutor, api-server, DAG processor, scheduler)
runs the demo: every ingest DAG at once, then the asset-triggered transform.

Checks: the plugin listener created the single-slot pool at start-up, every run succeeds, warehouse
write windows never overlap, and no task hit DuckDB's own file lock.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import duckdb
import psycopg2
import pytest

from tests.conftest import BIN, airflow_env, make_demo_project, run
from tests.integration.expected import KEYS, demo_expectations

pytestmark = [pytest.mark.scheduler, pytest.mark.slow]

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_db():
    name = f"dango_ci_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    yield name
    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _query(db: str, sql: str, *args):
    con = psycopg2.connect(dbname=db, **PG)
    try:
        with con.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        con.close()


def _wait(predicate, timeout: float, what: str, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_demo_under_a_real_scheduler(tmp_path, postgres_db):
    project = make_demo_project(tmp_path / "project")
    home = tmp_path / "airflow"
    port = _free_port()
    env = airflow_env(
        home, project,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{postgres_db}",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="8",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(16),
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
    )
    run([str(BIN / "airflow"), "db", "migrate"], env)
    assert _query(postgres_db, "select count(*) from slot_pool where pool = 'dango_duckdb'") == [(0,)]

    logs = tmp_path / "component-logs"
    logs.mkdir()
    procs = []
    for component in (["api-server", "--port", str(port)], ["dag-processor"], ["scheduler"]):
        out = open(logs / f"{component[0]}.log", "w")
        procs.append(subprocess.Popen([str(BIN / "airflow"), *component], env=env, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True))
    try:
        pool = _wait(lambda: _query(postgres_db, "select slots from slot_pool where pool = 'dango_duckdb'"),
                     120, "the listener to create pool dango_duckdb")
        assert pool == [(1,)]
        ingest_ids = [f"dango_ingest__{s}" for s in KEYS]
        _wait(lambda: len(_query(postgres_db, "select dag_id from dag where dag_id like 'dango_%%'")) == 5,
              180, "the DAG processor to parse the five dango DAGs")
        for dag_id in ingest_ids:
            run([str(BIN / "airflow"), "dags", "trigger", dag_id], env)

        def all_done():
            states = _query(postgres_db, "select dag_id, state from dag_run where dag_id like 'dango_%%'")
            failed = [s for s in states if s[1] == "failed"]
            assert not failed, f"failed runs: {failed}"
            ingest_ok = sum(1 for d, s in states if d in ingest_ids and s == "success") == len(ingest_ids)
            transform_ok = any(d == "dango_transform" and s == "success" for d, s in states)
            busy = any(s in ("queued", "running") for _, s in states)
            return ingest_ok and transform_ok and not busy

        _wait(all_done, 900, "every ingest run and the asset-triggered transform to succeed", interval=5)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    warehouse = project / "data" / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        windows = con.sql("select source, started_at, finished_at from dango_meta.load_history order by started_at").fetchall()
        counts = {s: con.sql(f"select count(*) from raw_{s}.{s}").fetchall()[0][0] for s in KEYS}
        marts = con.sql("select count(*) from marts.customer_lifetime_value").fetchall()[0][0]
    finally:
        con.close()
    assert sorted(w[0] for w in windows) == sorted(KEYS)
    for before, after in zip(windows, windows[1:]):
        assert before[2] <= after[1], f"write windows overlap: {before} and {after}"
    expected = demo_expectations(project / "include" / "data")
    assert counts == expected["counts"]
    assert marts == expected["counts"]["customers"]
    task_logs = "\n".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    assert task_logs, "no task logs were written"
    assert "Could not set lock" not in task_logs
