"""The preloading listener: what it imports, that a module failing to import is reported and skipped,
and that it acts for Airflow jobs only (task processes are not jobs). Its effect on forked task
processes is tested under a real scheduler (tests/scheduler/test_fork_preload.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from dango_provider.plugins import fork_preload
from dango_provider.plugins.dango_plugin import DangoPlugin
from tests.unit.helpers import REPO


def test_the_plugin_registers_the_listener():
    assert fork_preload in DangoPlugin.listeners


def test_a_module_that_fails_to_import_is_reported_and_the_rest_imported(caplog):
    failed = fork_preload.preload(("json", "dango_provider_no_such_module", "csv"))
    assert failed == ["dango_provider_no_such_module"]
    assert "could not preload dango_provider_no_such_module" in caplog.text
    assert {"json", "csv"} <= set(sys.modules)


def test_only_a_job_preloads():
    """In a fresh interpreter: a component that is not a job imports nothing; a job imports every listed
    module."""
    script = textwrap.dedent("""
        import sys
        from airflow.jobs.job import Job
        from dango_provider.plugins import fork_preload
        fork_preload.on_starting(component=object())
        print(any(name in sys.modules for name in ("dlt", "dbt.cli.main")))
        fork_preload.on_starting(component=Job.__new__(Job))
        print(all(name in sys.modules for name in fork_preload.TASK_MODULES))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert [line for line in out.stdout.splitlines() if line in ("True", "False")] == ["False", "True"], out.stdout
