"""dbt inside the Airflow task's process (Cosmos ``InvocationMode.DBT_RUNNER``), with the guarantees of the
``dango-dbt`` subprocess: the warehouse's write lock is held for the whole invocation, and nothing of the
warehouse stays open afterwards.

In-process dbt saves a Python start and a project load per task (seconds each). dbt-duckdb keeps its DuckDB
connection in a class attribute for the life of the process, so after each invocation it is closed here:
the next task of the same process (``airflow dags test`` runs them all in one) and other processes then
open the file as if dbt had exited.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from dango_provider.core.dbt_cli import release_duckdb, remember_jinja_parses
from dango_provider.hooks.warehouse import warehouse_from_dbt_env

_WRAPPED = "_dango_locked"


def locked(run_dbt_runner: Callable[..., Any]) -> Callable[..., Any]:
    """``run_dbt_runner(command, env, cwd, **kwargs)`` under the write lock of the warehouse the task's
    environment names (``Warehouse.dbt_env``), with the warehouse's secret variables added for the run only,
    releasing dbt-duckdb's connection before the lock."""
    if getattr(run_dbt_runner, _WRAPPED, False):
        return run_dbt_runner

    @functools.wraps(run_dbt_runner)
    def run(command: list[str], env: dict[str, str], cwd: str, **kwargs: Any) -> Any:
        remember_jinja_parses()
        warehouse = warehouse_from_dbt_env({**os.environ, **env})
        if warehouse is None:
            return run_dbt_runner(command, env, cwd, **kwargs)
        verb = next((part for part in command[1:] if not part.startswith("-")), "dbt")
        owner = env.get("DANGO_LOCK_OWNER") or f"dbt {verb} (in process {os.getpid()})"
        with warehouse.write_lock(owner):
            try:
                return run_dbt_runner(command, {**env, **warehouse.dbt_secret_env()}, cwd, **kwargs)
            finally:
                release_duckdb()

    setattr(run, _WRAPPED, True)
    return run
