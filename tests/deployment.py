"""A real Airflow deployment for the scheduler suites: api-server, DAG processor and scheduler
(LocalExecutor) started as processes, with PostgreSQL on 127.0.0.1:5432 or SQLite as metadata DB."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import psycopg2

from tests.conftest import BIN, airflow_env, run

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


NETAUDIT = Path(__file__).resolve().parent / "netaudit"
TELEMETRY_SWITCHES = ("SCARF_NO_ANALYTICS", "DO_NOT_TRACK", "AIRFLOW__COSMOS__ENABLE_TELEMETRY",
                      "DBT_SEND_ANONYMOUS_USAGE_STATS", "RUNTIME__DLTHUB_TELEMETRY")


class Deployment:
    def __init__(self, tmp_path: Path, project: Path, database: str = "postgres"):
        self.home = tmp_path / "airflow"
        self.logs = tmp_path / "component-logs"
        self.logs.mkdir(parents=True)
        self.database = database
        self.port = free_port()
        if database == "postgres":
            self.db_name = f"dango_ci_{uuid.uuid4().hex[:10]}"
            admin = psycopg2.connect(dbname="postgres", **PG)
            admin.autocommit = True
            admin.cursor().execute(f'CREATE DATABASE "{self.db_name}"')
            admin.close()
            conn = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.db_name}"
        else:
            conn = f"sqlite:///{self.home / 'airflow.db'}"
        self.env = airflow_env(
            self.home, project,
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=conn,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="8",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{self.port}/execution/",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(16),
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        )
        # as a deployment runs: no telemetry switches in the environment, every process network-audited
        self.network_audit = tmp_path / "network_audit.log"
        self.env = {k: v for k, v in self.env.items() if k not in TELEMETRY_SWITCHES}
        self.env.update(PYTHONPATH=str(NETAUDIT), DANGO_NET_AUDIT_LOG=str(self.network_audit))
        self.procs: dict[str, subprocess.Popen] = {}
        run([str(BIN / "airflow"), "db", "migrate"], self.env)

    def refused_connections(self) -> list[str]:
        """Connections and name lookups beyond this machine that a process tried (and the audit refused)."""
        lines = self.network_audit.read_text().splitlines() if self.network_audit.exists() else []
        assert any(line.startswith("armed") for line in lines), "the network audit never ran"
        return [line for line in lines if line.startswith("refused")]

    def query(self, sql: str, *args):
        if self.database == "postgres":
            con = psycopg2.connect(dbname=self.db_name, **PG)
            sql = sql.replace("?", "%s")
        else:
            con = sqlite3.connect(self.home / "airflow.db", timeout=30)
        try:
            cur = con.cursor()
            if self.database == "postgres":
                cur.execute(sql, args or None)
            else:
                cur.execute(sql, args)
            return cur.fetchall()
        finally:
            con.close()

    def start(self, component: str) -> None:
        args = ["api-server", "--port", str(self.port)] if component == "api-server" else [component]
        out = open(self.logs / f"{component}.log", "a")
        self.procs[component] = subprocess.Popen([str(BIN / "airflow"), *args], env=self.env, stdout=out,
                                                 stderr=subprocess.STDOUT, start_new_session=True)

    def start_all(self) -> None:
        for component in ("api-server", "dag-processor", "scheduler"):
            self.start(component)

    def kill(self, component: str) -> None:
        """SIGKILL the component's main process only: as if it crashed."""
        proc = self.procs.pop(component)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def kill_group(self, component: str) -> None:
        """SIGKILL the component with every process it started (for the scheduler: its LocalExecutor
        workers, their task processes and the log server), as when its container dies."""
        proc = self.procs.pop(component)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def trigger(self, dag_id: str) -> None:
        run([str(BIN / "airflow"), "dags", "trigger", dag_id], self.env)

    def stop(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()
        if self.database == "postgres":
            admin = psycopg2.connect(dbname="postgres", **PG)
            admin.autocommit = True
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            admin.close()

    def task_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in (self.home / "logs").rglob("*") if p.is_file())


def built_transform_succeeded(deployment: Deployment) -> bool:
    """A dango_transform run succeeded that did build (its sources_ready check passed, not skipped) and
    started after the last ingest run ended: a run that started earlier may have built only the sources
    that were ready then (the rest left out)."""
    return bool(deployment.query(
        "select 1 from dag_run r join task_instance t on t.dag_id = r.dag_id and t.run_id = r.run_id "
        "where r.dag_id = 'dango_transform' and r.state = 'success' "
        "and t.task_id = 'sources_ready' and t.state = 'success' and r.start_date >= "
        "(select max(end_date) from dag_run where dag_id like 'dango_ingest__%')"))


def ingest_and_transform_done(deployment: Deployment, ingest_ids: list[str]):
    """A ``wait_for`` predicate: every ingest DAG has a successful run, a transform built, nothing is
    queued or running. Fails at once when any dango run failed."""
    def done() -> bool:
        states = deployment.query("select dag_id, state from dag_run where dag_id like 'dango_%'")
        failed = [s for s in states if s[1] == "failed"]
        assert not failed, f"failed runs: {failed}"
        ingest_ok = sum(1 for d, s in states if d in ingest_ids and s == "success") == len(ingest_ids)
        busy = any(s in ("queued", "running") for _, s in states)
        return ingest_ok and built_transform_succeeded(deployment) and not busy
    return done
