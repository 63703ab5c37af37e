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


def _conf_get(key: str, fallback: str) -> str:
    try:
        from airflow.configuration import conf
    except ImportError:  # used outside Airflow (the CLI in a bare environment)
        return os.environ.get(f"AIRFLOW__DANGO__{key.upper()}", fallback)
    return conf.get("dango", key, fallback=fallback) or fallback


def load_settings() -> DangoSettings:
    return DangoSettings(
        project_dir=_conf_get("project_dir", ""),
        pool=_conf_get("pool", DEFAULT_POOL),
        pool_slots=int(_conf_get("pool_slots", "1")),
        lock_timeout=int(_conf_get("lock_timeout", str(DEFAULT_LOCK_TIMEOUT))),
        metabase_url=_conf_get("metabase_url", ""),
        allowed_data_roots=_conf_get("allowed_data_roots", ""),
    )


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
