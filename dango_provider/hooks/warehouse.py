"""The warehouse interface: how the provider opens the warehouse, whatever engine sits behind it.

Operators ask ``warehouse_for(project)`` and use only this interface, so a server warehouse can plug in
later without touching the DAG builder or the operators.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Any


class Warehouse(ABC):
    #: dbt adapter and dlt destination names of this warehouse
    engine: str

    @abstractmethod
    def write_lock(self, owner: str) -> AbstractContextManager[float]:
        """Hold the exclusive write guard (file lock for DuckDB); yields seconds waited."""

    @abstractmethod
    def connect(self, *, read_only: bool = False) -> Any:
        """A DB-API connection. Writers must hold ``write_lock`` first."""

    @abstractmethod
    def dlt_destination(self) -> Any:
        """The dlt destination that loads into this warehouse."""

    @abstractmethod
    def dbt_env(self) -> dict[str, str]:
        """Environment variables the dbt profile reads to reach this warehouse."""


def warehouse_for(project: Any, *, lock_timeout: float | None = None) -> Warehouse:
    """Factory: the warehouse described by the project's ``warehouse`` block."""
    from dango_provider.hooks.duckdb import DuckDBHook

    block = project.config.warehouse
    if block.type == "duckdb":
        return DuckDBHook(project.warehouse_path, lock_timeout=lock_timeout)
    raise NotImplementedError(f"warehouse type '{block.type}'")
