"""A running Airflow for the bench scripts (not a benchmark itself): tests/deployment.py's api-server,
DAG processor and LocalExecutor scheduler on SQLite, started and stopped around a measurement.

Times are read from the metadata DB (a run's ``queued_at`` to a task's or the run's ``end_date``), so
neither the ``airflow dags trigger`` CLI's own start nor the polling interval counts.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.deployment import Deployment, compose_scheduling, wait_for  # noqa: E402


@contextmanager
def running_airflow(work: Path, project: Path, dag_ids: list[str], *,
                    airflow_defaults: bool = False) -> Iterator[Deployment]:
    """api-server, DAG processor and scheduler over ``project``; yields once ``dag_ids`` are parsed and
    the scheduler heartbeats (set-up not timed). With the scheduling settings of docker-compose.yaml
    (decision 0022), or with Airflow's defaults for them (``airflow_defaults``)."""
    deployment = Deployment(work, project, "sqlite")
    if not airflow_defaults:
        deployment.env.update(compose_scheduling())
    try:
        deployment.start_all()
        wait_for(lambda: {r[0] for r in deployment.query("select dag_id from dag")} >= set(dag_ids), 300,
                 "the DAG processor to parse the DAGs")
        wait_for(lambda: deployment.query("select 1 from job where job_type = 'SchedulerJob' and state = 'running'"),
                 120, "the scheduler's heartbeat")
        print(f"     (set-up) the api-server's first execution-API request: {warm_execution_api(deployment):.2f} s",
              flush=True)
        yield deployment
    finally:
        deployment.stop()


def warm_execution_api(deployment: Deployment) -> float:
    """The api-server builds its execution API's versioned app (Cadwyn) on the first request it serves:
    about 3 s, once per api-server process. A deployment that has run any task has paid it; a fresh one
    would charge it to the first task measured. Returns how long that first request took (set-up, not
    timed in any figure)."""
    def first_answer() -> float | None:
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{deployment.port}/execution/health", timeout=120) as answer:
                answer.read()
        except OSError:  # not listening yet
            return None
        return time.perf_counter() - started

    return wait_for(first_answer, 120, "the api-server to answer", interval=0.5)


def first_task(deployment: Deployment, dag_id: str) -> float:
    """Set-up: one run of ``dag_id`` before anything is measured; returns its seconds (not timed in any
    figure). The api-server's first task-instance request takes about 1 s (its route's first use, once
    per api-server process); a deployment that has run any task has paid it, a fresh one would charge
    it to the first task measured."""
    started = time.perf_counter()
    wait_run(deployment, dag_id, trigger(deployment, dag_id))
    return time.perf_counter() - started


def _when(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def run_ids(deployment: Deployment, dag_id: str) -> list[str]:
    return [r[0] for r in deployment.query("select run_id from dag_run where dag_id = ? order by id", dag_id)]


def trigger(deployment: Deployment, dag_id: str) -> str:
    """Trigger ``dag_id`` and return the new run's id."""
    seen = set(run_ids(deployment, dag_id))
    deployment.trigger(dag_id)
    return wait_for(lambda: next((r for r in run_ids(deployment, dag_id) if r not in seen), None), 60,
                    f"the new {dag_id} run", interval=0.2)


def wait_run(deployment: Deployment, dag_id: str, run_id: str, timeout: float = 900) -> str:
    """Wait for the run to finish; exit naming the component logs when it did not succeed."""
    def finished():
        rows = deployment.query("select state from dag_run where dag_id = ? and run_id = ?", dag_id, run_id)
        return rows[0][0] if rows and rows[0][0] in ("success", "failed") else None

    state = wait_for(finished, timeout, f"{dag_id} {run_id}", interval=0.5)
    if state != "success":
        raise SystemExit(f"{dag_id} {run_id} {state}; task logs under {deployment.home / 'logs'}")
    return state


def queued_at(deployment: Deployment, dag_id: str, run_id: str) -> datetime:
    return _when(deployment.query("select queued_at from dag_run where dag_id = ? and run_id = ?", dag_id,
                                  run_id)[0][0])


def last_task_end(deployment: Deployment, dag_id: str, run_id: str, task_id: str | None = None) -> datetime:
    """The latest ``end_date`` among the run's tasks (or of one task)."""
    sql = "select max(end_date) from task_instance where dag_id = ? and run_id = ?"
    args: tuple = (dag_id, run_id)
    if task_id is not None:
        sql, args = sql + " and task_id = ?", (*args, task_id)
    return _when(deployment.query(sql, *args)[0][0])


def task_states(deployment: Deployment, dag_id: str, run_id: str) -> dict[str, str]:
    return dict(deployment.query("select task_id, state from task_instance where dag_id = ? and run_id = ?",
                                 dag_id, run_id))


def wait_new_run(deployment: Deployment, dag_id: str, seen: list[str], timeout: float = 300) -> str:
    """The id of the first run of ``dag_id`` not in ``seen`` (an asset-triggered one, say)."""
    return wait_for(lambda: next((r for r in run_ids(deployment, dag_id) if r not in seen), None), timeout,
                    f"a new {dag_id} run", interval=0.5)


def exit_wait(deployment: Deployment, dag_id: str, run_id: str, task_id: str, try_number: int,
              end: datetime) -> float | None:
    """Seconds from the task's last log line to its ``end_date``, which the supervisor sets once the task
    process has exited. Normally a few hundredths; 5 s when the supervisor saw the process' sockets close
    before the process had exited and then slept in its select loop (``[workers] min_heartbeat_interval``,
    5 s) before looking again. None without a log."""
    log = (deployment.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
           / f"attempt={try_number}.log")
    try:
        last = [line for line in log.read_text().splitlines() if line.startswith("{")][-1]
        stamp = datetime.fromisoformat(json.loads(last)["timestamp"].replace("Z", "+00:00"))
    except (OSError, IndexError, ValueError, KeyError):
        return None
    return (end.replace(tzinfo=end.tzinfo or UTC) - stamp).total_seconds()


def timeline(deployment: Deployment, dag_id: str, run_id: str) -> str:
    """Where a run's time went, one line: per task (in start order) the wait from the run's ``queued_at``
    or the previous task's end to its start (scheduling and process start), then its own duration; a task
    whose process took over a second from its last log line to its end gets "exit N s" (see exit_wait)."""
    origin = queued_at(deployment, dag_id, run_id)
    rows = deployment.query("select task_id, start_date, end_date, state, try_number from task_instance where "
                            "dag_id = ? and run_id = ? and start_date is not null order by start_date", dag_id, run_id)
    parts, previous, busy = [], origin, 0.0
    for task_id, start, end, state, try_number in rows:
        start, end = _when(start), _when(end) if end else None
        wait = max((start - previous).total_seconds(), 0.0)
        took = (end - start).total_seconds() if end else 0.0
        busy += took
        notes = [] if state == "success" else [state]
        exited = exit_wait(deployment, dag_id, run_id, task_id, try_number, end) if end else None
        if exited is not None and exited > 1:
            notes.append(f"exit {exited:.1f} s")
        parts.append(f"{task_id} +{wait:.1f}/{took:.1f}" + (f" ({', '.join(notes)})" if notes else ""))
        previous = max(previous, end or start)
    total = (previous - origin).total_seconds()
    return (f"{dag_id}: {total:.1f} s, tasks busy {busy:.1f} s, between tasks {total - busy:.1f} s "
            f"[wait/run s: {', '.join(parts)}]")
