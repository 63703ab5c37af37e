"""The scheduler's throwaway dbt parse (decision 0020)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_the_warm_up_parses_and_leaves_the_process_as_it_was(tmp_path):
    """In a clean interpreter: dbt's schema cache is filled, and no thread, directory change, variable or
    file is left behind (the scheduler forks its task processes afterwards). Threads are counted as the
    kernel sees them: dbt's static parser (Rust) starts a pool of native threads that Python's
    ``threading`` does not list, and a task forked after it hung in its first parse."""
    code = ("import json, os, threading\n"
            "from dbt_common.dataclass_schema import dbtClassMixin\n"
            "import dango_provider.core.dbt_cli  # sets the telemetry-off variables at import (offline.py)\n"
            "from dango_provider.core.dbt_warm_up import warm_up_dbt\n"
            "from dango_provider.plugins.task_imports import import_task_modules\n"
            "import_task_modules()  # as the scheduler does first (DuckDB and pyarrow start their own threads)\n"
            "def threads(): return len(os.listdir('/proc/self/task'))\n"
            "cwd, env, before = os.getcwd(), dict(os.environ), threads()\n"
            "warm_up_dbt()\n"
            "print(json.dumps({'schemas': dbtClassMixin.__dict__['json_schema'].__func__.cache_info().currsize,\n"
            "                  'threads': threads() - before, 'python_threads': threading.active_count(), 'cwd': os.getcwd() == cwd,\n"
            "                  'env': dict(os.environ) == env}))\n")
    env = {k: v for k, v in os.environ.items() if k != "DANGO_WAREHOUSE_PATH"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**env, "TMPDIR": str(tmp_path)}, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    # the project files and nodes a dango project's parse validates, models, tests, sources and seeds among them
    assert seen["schemas"] >= 10, seen
    assert seen == {**seen, "threads": 0, "python_threads": 1, "cwd": True, "env": True}, seen
    assert list(tmp_path.iterdir()) == []
