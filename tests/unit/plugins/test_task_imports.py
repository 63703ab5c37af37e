"""The scheduler imports the tasks' libraries before its LocalExecutor forks (decision 0019)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dango_provider.plugins.task_imports import TASK_MODULES, runs_tasks_in_forks


@pytest.mark.parametrize(("argv", "executor", "expected"), [
    (["airflow", "scheduler"], "LocalExecutor", True),
    (["airflow", "scheduler"], "airflow.executors.local_executor.LocalExecutor", True),
    (["airflow", "scheduler"], "CeleryExecutor", False),  # its tasks run in the Celery workers
    (["airflow", "dag-processor"], "LocalExecutor", False),
    (["airflow", "api-server"], "LocalExecutor", False),
    (["airflow", "dags", "test", "x"], "LocalExecutor", False),
])
def test_only_a_local_executor_scheduler_imports(argv, executor, expected):
    assert runs_tasks_in_forks(argv, executor) is expected


def test_every_task_module_imports_and_leaves_no_thread():
    """Each one imports in a clean interpreter, and none leaves a thread behind (a fork copies only the
    thread that forks)."""
    code = ("import threading, importlib, sys\n"
            "for name in sys.argv[1:]: importlib.import_module(name)\n"
            "print(threading.active_count())\n")
    out = subprocess.run([sys.executable, "-c", code, *TASK_MODULES], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "1", out.stdout + out.stderr
