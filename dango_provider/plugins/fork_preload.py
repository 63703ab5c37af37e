"""Listener that imports what the provider's task processes import, in the Airflow component that forks them.

The LocalExecutor forks its workers from the scheduler, and each worker forks one process per task
(Airflow 3's supervisor); the DAG processor forks one process per DAG-file parse. Every such process
parses the project's DAG file (Cosmos, dlt's naming convention, the provider) and the dbt tasks import
dbt: about a second of imports per task process on a quiet 2-core machine, paid again by each of the
transform's tasks, which run one after another in the writer pool. Imported once here, before the
forks, they are inherited instead (decision 0014).

Only imports: nothing here starts a thread, opens a file or a connection, or installs a handler, so a
fork afterwards is as safe as before. A module that fails to import is logged and skipped; the task
that needs it then fails with the real error.
"""

from __future__ import annotations

import importlib
import logging
import time

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

# What a task process of the provider imports beyond Airflow itself.
TASK_MODULES = (
    "dango_provider.dag_builder.build",  # the DAG file of every project
    "cosmos.operators.local",  # the transform's dbt tasks
    "dlt",  # the DAG file checks source names with dlt's naming convention; ingest tasks run dlt
    "dlt.common.normalizers.naming.snake_case",
    "dbt.cli.main",  # dbt_build and dbt_docs run dbt in the task's process
    "dbt.adapters.duckdb",
    "duckdb",
)


def preload(modules: tuple[str, ...] = TASK_MODULES) -> list[str]:
    """Import ``modules``; return those that could not be imported."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # a listener must not stop the component
            log.warning("could not preload %s for task processes", name, exc_info=True)
            failed.append(name)
    return failed


@hookimpl
def on_starting(component) -> None:
    # Jobs (scheduler, DAG processor, triggerer) are what fork task and parsing processes.
    from airflow.jobs.job import Job

    if not isinstance(component, Job):
        return
    started = time.monotonic()
    failed = preload()
    log.info("preloaded %d module(s) for task processes in %.1f s", len(TASK_MODULES) - len(failed),
             time.monotonic() - started)
