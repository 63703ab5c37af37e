"""A real Airflow deployment for the scheduler suites: api-server, DAG processor and scheduler started as
processes, with PostgreSQL on 127.0.0.1:5432 or SQLite as metadata DB; LocalExecutor, or CeleryExecutor
with Redis on 127.0.0.1:6379 as the broker and Celery workers that each stand for a machine of their own
(their own working directory, log folder and ``[dango] work_dir``)."""

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
import yaml

from tests.conftest import BIN, airflow_env, reap_group, run

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 2.0, explain=None):
    """Poll ``predicate`` until it returns a true value; on time-out, fail with ``explain()`` (what the
    deployment was doing) in the message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f"\n{explain()}" if explain else ""))


NETAUDIT = Path(__file__).resolve().parent / "netaudit"
COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yaml"
#: the scheduling settings docker-compose.yaml gives every Airflow process (decision 0022); the bench's
#: deployments run with them, the suites with Airflow's defaults (quicker loops cost CPU the suites' tasks
#: share two cores with)
SCHEDULING = ("AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL")


def compose_scheduling() -> dict[str, str]:
    env = yaml.safe_load(COMPOSE.read_text())["x-airflow-env"]
    return {name: env[name] for name in SCHEDULING}
TELEMETRY_SWITCHES = ("SCARF_NO_ANALYTICS", "DO_NOT_TRACK", "AIRFLOW__COSMOS__ENABLE_TELEMETRY",
                      "DBT_SEND_ANONYMOUS_USAGE_STATS", "RUNTIME__DLTHUB_TELEMETRY")


class Deployment:
    def __init__(self, tmp_path: Path, project: Path, database: str = "postgres", executor: str = "LocalExecutor"):
        self.root = tmp_path
        self.home = tmp_path / "airflow"
        self.log_folders = [self.home / "logs"]
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
            AIRFLOW__CORE__EXECUTOR=executor,
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
        self.broker_db: int | None = None
        if executor == "CeleryExecutor":
            assert database == "postgres", "Celery keeps its results in the metadata database here"
            self.broker_db = free_redis_db()
            self.env.update(
                AIRFLOW__CELERY__BROKER_URL=f"redis://127.0.0.1:6379/{self.broker_db}",
                AIRFLOW__CELERY__RESULT_BACKEND=f"db+postgresql+psycopg2://postgres@127.0.0.1:5432/{self.db_name}",
                # a worker that died: its task instances fail after 30 s without a heartbeat, then retry
                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="30",
                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
                # a message the dead worker had taken but not started comes back from Redis only after the
                # visibility timeout (a day): the scheduler re-queues a task queued this long instead
                AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT="180",
                AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL="15",
            )
        run([str(BIN / "airflow"), "db", "migrate"], self.env)

    def start_worker(self, name: str, queues: tuple[str, ...] = ("default",), concurrency: int = 4,
                     work_dir: Path | None = None) -> Path:
        """A Celery worker standing for a machine of its own: its own working directory (its cwd), task
        log folder and ``[dango] work_dir``; the project is what it shares with the others. Returns its
        directory."""
        machine = self.root / f"machine-{name}"
        (machine / "logs").mkdir(parents=True, exist_ok=True)
        self.log_folders.append(machine / "logs")
        env = {**self.env, "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(machine / "logs"),
               "AIRFLOW__DANGO__WORK_DIR": str(work_dir or machine / "work")}
        out = open(self.logs / f"worker-{name}.log", "a")
        self.procs[f"worker-{name}"] = subprocess.Popen(
            [str(BIN / "airflow"), "celery", "worker", "--queues", ",".join(queues), "--concurrency", str(concurrency),
             "--celery-hostname", f"{name}@%h", "--skip-serve-logs"],
            env=env, cwd=machine, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return machine

    def ready(self, dag_count: int, pool_slots: int = 1) -> None:
        """Wait for the listener to create the writer pool and the DAG processor to parse ``dag_count``
        dango DAGs."""
        pool = wait_for(lambda: self.query("select slots from slot_pool where pool = 'dango_duckdb'"),
                        120, "the listener to create pool dango_duckdb")
        assert pool == [(pool_slots,)]
        wait_for(lambda: len(self.query("select dag_id from dag where dag_id like 'dango_%'")) == dag_count,
                 240, "the DAG processor to parse the DAGs")

    def unfinished(self) -> str:
        """Runs and task instances that have not succeeded, with where they ran: a time-out's explanation."""
        runs = self.query("select dag_id, run_id, state, start_date, end_date from dag_run "
                          "where state != 'success' order by dag_id")
        tasks = self.query("select dag_id, task_id, state, try_number, hostname, queue, pool, start_date, end_date "
                           "from task_instance where state is null or state != 'success' order by dag_id, task_id")
        transforms = self.query("select r.run_id, r.state, r.start_date, t.state from dag_run r join task_instance t "
                                "on t.dag_id = r.dag_id and t.run_id = r.run_id and t.task_id = 'sources_ready' "
                                "where r.dag_id = 'dango_transform' order by r.start_date")
        events = self.query("select source_dag_id, timestamp from asset_event order by timestamp")
        return "\n".join(["runs not succeeded:", *map(str, runs), "task instances not succeeded:", *map(str, tasks),
                          "transform runs (sources_ready):", *map(str, transforms), "asset events:", *map(str, events)])

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
        for proc in self.procs.values():  # all at once, then each waited for (or killed)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs.values():
            reap_group(proc)
        self.procs.clear()
        if self.broker_db is not None:
            redis_client(self.broker_db).flushdb()
        if self.database == "postgres":
            admin = psycopg2.connect(dbname="postgres", **PG)
            admin.autocommit = True
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            admin.close()

    def task_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for folder in self.log_folders
                         for p in folder.rglob("*") if p.is_file())


def redis_client(db: int):
    import redis

    return redis.Redis(host="127.0.0.1", port=6379, db=db)


def free_redis_db() -> int:
    """A Redis database (1-15) with no keys: the broker of one deployment."""
    for db in secrets.SystemRandom().sample(range(1, 16), 15):
        if redis_client(db).dbsize() == 0:
            return db
    raise AssertionError("no empty Redis database on 127.0.0.1:6379 for the Celery broker")


def built_transform_succeeded(deployment: Deployment) -> bool:
    """A dango_transform run succeeded that did build (its sources_ready check passed, not skipped) and
    started after the last ingest published its raw data (the asset event of its last task): a run that
    started earlier may have built only the sources that were ready then (the rest left out). The ingest
    run's own end comes later than its event, often after the transform run it triggered started."""
    return bool(deployment.query(
        "select 1 from dag_run r join task_instance t on t.dag_id = r.dag_id and t.run_id = r.run_id "
        "where r.dag_id = 'dango_transform' and r.state = 'success' "
        "and t.task_id = 'sources_ready' and t.state = 'success' and r.start_date >= "
        "(select max(timestamp) from asset_event where source_dag_id like 'dango_ingest__%')"))


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
