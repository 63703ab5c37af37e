"""Listener that imports what the tasks need into the scheduler before its LocalExecutor forks, parses a
throwaway dbt project there so that dbt's per-process caches are filled too (decision 0020), and builds
the PII scan's Presidio analyzer with the default spaCy model (decision 0021).

LocalExecutor forks its workers from the scheduler when the scheduler starts, and each task process
from a worker: a module the scheduler has imported is already in every task process, shared
copy-on-write. A cold task process imported dlt, DuckDB, pyarrow, dbt or Presidio itself, 1-3 s per
task (decision 0019). The imports take about 3 s once when the scheduler starts and about 180 MB
of memory in it (not one per task: the pages are shared). Other executors run their tasks elsewhere
and are left alone.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time

from airflow.listeners import hookimpl

from dango_provider.core.dbt_warm_up import warm_up_dbt
from dango_provider.core.pii import DEFAULT_NLP_MODEL, prebuild_analyzer

log = logging.getLogger(__name__)

# what the ingest and transform tasks import at run time (their own modules import them lazily)
TASK_MODULES = (
    "duckdb", "pyarrow", "pyarrow.parquet",
    "dlt", "dlt.destinations", "dlt.pipeline.pipeline", "dlt.normalize", "dlt.load",
    "dbt.cli.main", "dbt.adapters.duckdb",
    "presidio_analyzer",
    "cosmos",
)


def runs_tasks_in_forks(argv: list[str], executor: str) -> bool:
    """This process is ``airflow scheduler`` with a LocalExecutor (the only executor that forks its
    task processes from the scheduler)."""
    return argv[1:2] == ["scheduler"] and "LocalExecutor" in executor


def import_task_modules() -> float:
    started = time.perf_counter()
    for name in TASK_MODULES:
        importlib.import_module(name)
    return time.perf_counter() - started


#: set once the scheduler has preloaded: its forks inherit it (a task process also calls ``on_starting``,
#: with the scheduler's argv) and do not preload again
_preloaded = False


@hookimpl
def on_starting(component) -> None:
    global _preloaded
    from airflow.configuration import conf

    if _preloaded or not runs_tasks_in_forks(sys.argv, conf.get("core", "executor", fallback="")):
        return
    _preloaded = True
    try:
        took = import_task_modules()
    except Exception:  # a listener must not stop the scheduler; tasks then import for themselves
        log.exception("could not import the task modules ahead of the LocalExecutor's forks")
        return
    log.info("imported %d task modules ahead of the LocalExecutor's forks in %.1f s", len(TASK_MODULES), took)
    try:
        took = warm_up_dbt()
    except Exception:  # the tasks' first dbt parse then fills dbt's caches itself
        log.exception("could not warm up dbt's parser ahead of the LocalExecutor's forks")
        return
    log.info("warmed up dbt's parser ahead of the LocalExecutor's forks in %.1f s", took)
    started = time.perf_counter()
    try:
        built = prebuild_analyzer()
    except Exception:  # the PII task then builds its own
        log.exception("could not build the PII analyzer ahead of the LocalExecutor's forks")
        return
    if built:
        log.info("built the PII analyzer (%s) ahead of the LocalExecutor's forks in %.1f s", DEFAULT_NLP_MODEL,
                 time.perf_counter() - started)
