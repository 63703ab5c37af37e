"""The scheduler imports the tasks' libraries before its LocalExecutor forks (decision 0019)."""

from __future__ import annotations

import os
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


def test_the_scheduler_preloads_once_and_its_forks_do_not_again(tmp_path):
    """A task process forked from the scheduler calls ``on_starting`` too, with the scheduler's argv: it
    neither imports nor parses again (decision 0020)."""
    code = ("import os, sys\n"
            "sys.argv = ['airflow', 'scheduler']\n"
            "from dango_provider.plugins import task_imports\n"
            "task_imports.on_starting(component=None)\n"
            "sys.stdout.flush()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    task_imports.on_starting(component=None)\n"
            "    from dango_provider.core import pii\n"
            "    print('fork has the analyzer:', list(pii._analyzers), flush=True)\n"
            "    print('fork done', flush=True)\n"
            "    os._exit(0)\n"
            "os.waitpid(pid, 0)\n")
    env = {**os.environ, "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = (out.stdout + out.stderr).splitlines()
    assert len([ln for ln in lines if f"] imported {len(TASK_MODULES)} task modules ahead" in ln]) == 1, lines
    assert len([ln for ln in lines if "] warmed up dbt's parser ahead" in ln]) == 1, lines
    assert len([ln for ln in lines if "] built the PII analyzer (en_core_web_sm) ahead" in ln]) == 1, lines
    assert "fork has the analyzer: ['en_core_web_sm']" in lines  # built once, in the scheduler
    assert "fork done" in lines
    assert list(tmp_path.iterdir()) == []  # the throwaway project is gone


def test_the_prebuilt_analyzer_starts_no_thread():
    """After the scheduler's imports, building the analyzer starts no thread, native ones included (a fork
    copies only the thread that forks)."""
    code = ("import os, sys\n"
            "from dango_provider.plugins.task_imports import import_task_modules\n"
            "from dango_provider.core.pii import prebuild_analyzer\n"
            "import_task_modules()\n"
            "before = len(os.listdir('/proc/self/task'))\n"
            "assert prebuild_analyzer()\n"
            "print(before, len(os.listdir('/proc/self/task')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    before, after = out.stdout.split()[-2:]
    assert after == before, out.stdout + out.stderr
