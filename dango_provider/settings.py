"""The [dango] section of the Airflow configuration, read in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_POOL = "dango_duckdb"
DEFAULT_LOCK_TIMEOUT = 600


@dataclass(frozen=True)
class DangoSettings:
    project_dir: str
    pool: str
    pool_slots: int
    lock_timeout: int
    metabase_url: str
    #: directories outside the project that sources.yml may name (data kept elsewhere)
    allowed_data_roots: str = ""
    #: a directory on this worker's own disk where extracts run (dlt's working directories); empty: the
    #: project's state directory. The project directory (state, stashes, loads) is what workers share.
    work_dir: str = ""
    #: the Celery queue of every task that opens a DuckDB-file warehouse (one worker consumes it); required
    #: when the executor runs tasks on several workers
    duckdb_queue: str = ""


def _conf_get(key: str, fallback: str) -> str:
    return _conf_get_section("dango", key, fallback)


def load_settings() -> DangoSettings:
    return DangoSettings(
        project_dir=_conf_get("project_dir", ""),
        pool=_conf_get("pool", DEFAULT_POOL),
        pool_slots=int(_conf_get("pool_slots", "1")),
        lock_timeout=int(_conf_get("lock_timeout", str(DEFAULT_LOCK_TIMEOUT))),
        metabase_url=_conf_get("metabase_url", ""),
        allowed_data_roots=_conf_get("allowed_data_roots", ""),
        work_dir=_conf_get("work_dir", ""),
        duckdb_queue=_conf_get("duckdb_queue", ""),
    )


#: executors that run every task on the machine of the scheduler
_ONE_MACHINE_EXECUTORS = {"LocalExecutor", "SequentialExecutor", "DebugExecutor"}


def multi_worker_executors() -> list[str]:
    """The configured executors (``[core] executor``) that may run tasks on several machines."""
    raw = _conf_get_section("core", "executor", "LocalExecutor")
    names = [part.strip().rpartition(":")[2].rpartition(".")[2] for part in raw.split(",") if part.strip()]
    return [name for name in names if name not in _ONE_MACHINE_EXECUTORS]


def _conf_get_section(section: str, key: str, fallback: str) -> str:
    try:
        from airflow.configuration import conf
    except ImportError:
        return os.environ.get(f"AIRFLOW__{section.upper()}__{key.upper()}", fallback)
    return conf.get(section, key, fallback=fallback) or fallback


def load_configured_project(path: str | os.PathLike, *, isolate_sources: bool = False):
    """Load a project with the deployment's ``[dango] allowed_data_roots`` (in Airflow's processes)."""
    from dango_provider.config.loader import load_project
    from dango_provider.core.paths import parse_roots
    from dango_provider.exceptions import DangoConfigError

    try:
        roots = parse_roots(load_settings().allowed_data_roots)
    except ValueError as exc:
        raise DangoConfigError(str(exc)) from None
    return load_project(path, allowed_roots=roots, isolate_sources=isolate_sources)


def resolve_project_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The project directory: an explicit path, else [dango] project_dir, else the current directory."""
    # the environment first: importing Airflow's configuration costs seconds in a CLI command
    raw = str(explicit) if explicit else (os.environ.get("AIRFLOW__DANGO__PROJECT_DIR") or load_settings().project_dir)
    if not raw:
        return Path.cwd()
    path = Path(raw).expanduser()
    if not path.is_absolute():
        try:
            from airflow.configuration import conf

            path = Path(conf.get("core", "dags_folder")) / path
        except ImportError:
            path = Path.cwd() / path
    return path.resolve()
