"""The warehouse interface: how the provider opens the warehouse, whatever engine sits behind it.

Operators ask ``warehouse_for(project)`` and use only this interface, so a server warehouse can plug in
later without touching the DAG builder or the operators.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class Warehouse(ABC):
    #: dbt adapter and dlt destination names of this warehouse
    engine: str
    #: the one file the warehouse is, when it is one (its replacement can be noticed without opening it)
    file: Path | None = None

    @abstractmethod
    def write_lock(self, owner: str) -> AbstractContextManager[float]:
        """Hold the exclusive write guard (file lock for DuckDB); yields seconds waited."""

    @abstractmethod
    def connect(self, *, read_only: bool = False) -> Any:
        """A DB-API connection. Writers must hold ``write_lock`` first."""

    def transaction(self, work: Callable[[Any], T]) -> T:
        """``work(connection)`` in one transaction, committed (rolled back when it raises). Writers hold
        ``write_lock`` around it; a warehouse whose commits can conflict retries them (DuckLake)."""
        con = self.connect()
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                result = work(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            return result
        finally:
            con.close()

    @abstractmethod
    def dlt_destination(self) -> Any:
        """The dlt destination that loads into this warehouse."""

    @abstractmethod
    def dbt_env(self) -> dict[str, str]:
        """Environment variables the dbt profile reads to reach this warehouse (never a secret: they may be
        shown as task parameters)."""

    def dbt_secret_env(self) -> dict[str, str]:
        """Secret variables the dbt profile reads, set in dbt's process only while it runs."""
        return {}

    def dbt_process_env(self) -> dict[str, str]:
        """Everything the dbt profile reads, for a dbt process this task starts (never shown)."""
        return {**self.dbt_env(), **self.dbt_secret_env()}

    @abstractmethod
    def publish(self, target: Any) -> dict:
        """Write a consistent copy of the warehouse to the DuckDB file ``target`` for readers, atomically;
        what was published (path, tables, bytes, storage_version, method). The caller holds ``write_lock``."""


def lock_owner(dag_id: str, task_id: str, run_id: str) -> str:
    """Who holds the warehouse lock, as a waiting writer's message names a task of a run."""
    return f"{dag_id}.{task_id} run {run_id}"


def warehouse_from_dbt_env(env: Mapping[str, str]) -> Warehouse | None:
    """The warehouse a dbt run's environment (``Warehouse.dbt_env``) points at; None when it names none."""
    from dango_provider.settings import DEFAULT_LOCK_TIMEOUT

    timeout = float(env.get("DANGO_LOCK_TIMEOUT") or DEFAULT_LOCK_TIMEOUT)
    if env.get("DANGO_WAREHOUSE_PATH"):
        from dango_provider.hooks.duckdb import DuckDBHook

        return DuckDBHook(env["DANGO_WAREHOUSE_PATH"], lock_timeout=timeout)
    if env.get("DANGO_LAKE_CATALOG_CONN_ID"):  # core.dbt_profile.LAKE_ENV
        from dango_provider.hooks.ducklake import DuckLakeHook

        return DuckLakeHook(env["DANGO_LAKE_CATALOG_CONN_ID"], env["DANGO_LAKE_DATA_PATH"],
                            metadata_schema=env.get("DANGO_LAKE_METADATA_SCHEMA") or "lake", lock_timeout=timeout)
    return None


def warehouse_for(project: Any, *, lock_timeout: float | None = None) -> Warehouse:
    """Factory: the warehouse described by the project's ``warehouse`` block; a writer waits ``lock_timeout``
    seconds for the lock, by default the deployment's ``[dango] lock_timeout``."""
    from dango_provider.hooks.duckdb import DuckDBHook
    from dango_provider.settings import load_settings

    if lock_timeout is None:
        lock_timeout = load_settings().lock_timeout

    block = project.config.warehouse
    if block.type == "ducklake":
        from dango_provider.hooks.ducklake import DuckLakeHook

        return DuckLakeHook(block.catalog, project.lake_data_path, metadata_schema=block.metadata_schema,
                            lock_timeout=lock_timeout)
    return DuckDBHook(project.warehouse_path, lock_timeout=lock_timeout)
