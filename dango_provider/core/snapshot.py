"""Publish a read-only serving copy of the DuckDB warehouse: checkpoint, copy, verify, atomic rename.

Readers (BI tools, notebooks, the status command) open only the serving copy. A reader holding the
old copy keeps its open file (the rename replaces the directory entry, not the file it reads), so a
reader never delays or fails a write, and never sees a half-written copy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from dango_provider.core.duckdb_config import OFFLINE
from dango_provider.exceptions import DangoError



def serving_path(warehouse: Path) -> Path:
    return warehouse.parent / "serving" / warehouse.name


def publish(warehouse: Path, target: Path) -> dict:
    """Copy ``warehouse`` to ``target`` atomically. The caller holds the warehouse write lock."""
    import duckdb

    if not warehouse.exists():
        raise DangoError(f"warehouse '{warehouse}' does not exist: nothing to publish")
    con = duckdb.connect(str(warehouse), config=OFFLINE)
    try:
        con.execute("CHECKPOINT")  # fold the WAL into the file so the copy is complete on its own
    finally:
        con.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(warehouse, tmp)
        check = duckdb.connect(str(tmp), read_only=True, config=OFFLINE)
        try:
            tables = check.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('information_schema', 'pg_catalog')"
            ).fetchone()[0]
        finally:
            check.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"path": str(target), "tables": tables, "bytes": target.stat().st_size}
