"""DuckDB warehouse access: one file, one writer at a time (file lock), readers read-only."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import duckdb

from dango_provider.core.duckdb_config import OFFLINE
from dango_provider.core.lock import warehouse_lock
from dango_provider.core.naming import Naming
from dango_provider.exceptions import DangoError
from dango_provider.hooks.warehouse import Warehouse
from dango_provider.settings import DEFAULT_LOCK_TIMEOUT

MEMORY_LIMIT = "256MB"


class DuckDBHook(Warehouse):
    """Access to a DuckDB warehouse file.

    :param path: the warehouse file (created on first write)
    :param lock_timeout: seconds a writer waits for the file lock
    """

    engine = "duckdb"

    def __init__(self, path: str | Path, *, lock_timeout: float | None = None):
        self.path = self.file = Path(path)
        self.lock_timeout = DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout

    @property
    def lock_path(self) -> Path:
        return Naming.lock_path(self.path)

    def write_lock(self, owner: str) -> AbstractContextManager[float]:
        return warehouse_lock(self.lock_path, timeout=self.lock_timeout, owner=owner)

    def connect(self, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        if read_only and not self.path.exists():
            raise DangoError(f"warehouse '{self.path}' does not exist yet: no source has been loaded")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # autoinstall/autoload off: the provider works offline and never downloads an extension
            return duckdb.connect(
                str(self.path),
                read_only=read_only,
                config=OFFLINE,
            )
        except duckdb.IOException as exc:
            raise DangoError(f"cannot open warehouse '{self.path}': {exc}") from exc

    def dlt_destination(self):
        import dlt
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        # a bounded buffer pool keeps large loads (and merges) from growing the task's memory unbounded
        credentials = DuckDbCredentials(str(self.path), global_config={"memory_limit": MEMORY_LIMIT,
                                                                   "preserve_insertion_order": False})
        return dlt.destinations.duckdb(credentials=credentials)

    def dbt_env(self) -> dict[str, str]:
        return {"DANGO_WAREHOUSE_PATH": str(self.path)}

    def publish(self, target) -> dict:
        """The warehouse file, checkpointed, copied (or rewritten for older readers) to ``target``."""
        from dango_provider.core.snapshot import publish

        return publish(self.path, Path(target))
