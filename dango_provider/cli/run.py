"""``dango run SOURCE``: trigger the source's ingest DAG in the Airflow this environment points at
(its metadata database, as ``airflow dags trigger`` does) and follow the run to its end: each task's
state changes on stderr, the outcome on stdout, and the run's result as the exit code (0 success,
1 failed). It refuses before triggering when nothing would run the DAG: no scheduler heartbeat, the
DAG paused or not parsed yet.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

from dango_provider.cli.common import add_project_option, project_path
from dango_provider.exceptions import DangoError

POLL_SECONDS = 1.0
TERMINAL = ("success", "failed")


def _ingest_dag(project_dir: Path, source_name: str):
    from dango_provider.config.loader import load_project
    from dango_provider.core.naming import Naming

    project = load_project(project_dir)
    source = project.source(source_name)
    if not source.enabled:
        raise DangoError(f"source '{source.name}' is disabled in {project.sources_file}, so it has no DAG; "
                         f"enable it with: dango source enable {source.name}")
    return project, source, Naming.ingest_dag_id(source.name)


def trigger(dag_id: str, conf: dict) -> str:
    from airflow.utils.types import DagRunTriggeredByType

    from dango_provider.hooks.airflow_runs import trigger_runnable

    return trigger_runnable(dag_id, conf, user=getpass.getuser(), triggered_by=DagRunTriggeredByType.CLI)


def _snapshot(dag_id: str, run_id: str) -> tuple[str, dict[str, tuple[str | None, int]]]:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        state = session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        rows = session.execute(select(TaskInstance.task_id, TaskInstance.state, TaskInstance.try_number)
                               .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)).all()
    return str(state), {task: (ti_state and str(ti_state), tries) for task, ti_state, tries in rows}


def follow(dag_id: str, run_id: str, timeout: float | None, stream=None) -> tuple[str, dict]:
    """Poll the run until it ends; print each task's new state. Returns (run state, task states)."""
    stream = stream or sys.stderr
    started = time.monotonic()
    seen: dict[str, tuple[str | None, int]] = {}
    state = "queued"
    while True:
        state, tasks = _snapshot(dag_id, run_id)
        for task, now in tasks.items():
            if now != seen.get(task) and now[0] is not None:
                retry = f" (try {now[1]})" if now[1] > 1 else ""
                stream.write(f"[{time.monotonic() - started:6.1f}s] {task}: {now[0]}{retry}\n")
                stream.flush()
        seen = tasks
        if state in TERMINAL:
            return state, tasks
        if timeout is not None and time.monotonic() - started > timeout:
            raise DangoError(f"run {run_id} of {dag_id} is still {state} after {timeout:.0f} s; it goes on "
                             f"(airflow dags state {dag_id} ...)")
        time.sleep(POLL_SECONDS)


def _failure_lines(project, source, run_id: str, tasks: dict) -> list[str]:
    from dango_provider.core.governance_state import last_failure
    from dango_provider.sources.pipeline import source_state_dir

    failed = sorted(task for task, (state, _) in tasks.items() if state in ("failed", "upstream_failed"))
    lines = [f"failed task: {task} ({tasks[task][0]})" for task in failed]
    recorded = last_failure(source_state_dir(project, source)) or {}
    if recorded.get("run_id") == run_id:
        log = f"; log: {recorded['log_url']}" if recorded.get("log_url") else ""
        lines.append(f"error in {recorded.get('task_id')}: {recorded.get('error')}{log}")
    return lines


def _run(args: argparse.Namespace) -> int:
    project, source, dag_id = _ingest_dag(project_path(args.project), args.source)
    conf = {"full_refresh": True} if args.full_refresh else {}
    # Airflow logs its own warnings on stdout; stdout carries only the outcome
    with redirect_stdout(sys.stderr):
        run_id = trigger(dag_id, conf)
        print(f"triggered {dag_id} run {run_id}; following it (Ctrl-C stops following, not the run)")
        started = time.monotonic()
        try:
            state, tasks = follow(dag_id, run_id, args.timeout)
        except KeyboardInterrupt:
            print(f"\nstopped following; run {run_id} of {dag_id} goes on")
            return 130
    print(f"{dag_id} run {run_id}: {state} in {time.monotonic() - started:.1f} s")
    if state == "success":
        return 0
    for line in _failure_lines(project, source, run_id, tasks):
        print(line)
    return 1


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run", help="trigger a source's ingest DAG and follow it to its end",
        description="Trigger dango_ingest__SOURCE in the Airflow this environment points at (its metadata "
                    "database, as `airflow dags trigger`), then follow the run: task states on stderr, the "
                    "outcome on stdout; exit 0 when the run succeeded, 1 when it failed or could not start. "
                    "The transform follows through the source's Asset, as for any other run.")
    run.add_argument("source", metavar="SOURCE", help="the source to load")
    add_project_option(run)
    run.add_argument("--full-refresh", action="store_true",
                     help='reload from scratch: the run\'s conf is {"full_refresh": true}')
    run.add_argument("--timeout", type=float, metavar="SECONDS",
                     help="stop following (exit 1) after this long; the run goes on (default: follow to the end)")
    run.set_defaults(func=_run)
