"""Extract and load one source of a test project for real, and read its warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dango_provider.config.loader import load_project
from dango_provider.hooks.duckdb import DuckDBHook
from dango_provider.sources.interval import Interval
from dango_provider.sources.runner import extract_source, load_source


def sync(root: Path, name: str, interval: Interval | None = None, *, full_refresh: bool = False,
         run_id: str | None = None, work_dir: Path | None = None):
    """Extract (in ``work_dir``: another worker's own disk) and load source ``name``; return
    (ExtractResult, LoadResult)."""
    project = load_project(root)
    source = project.source(name)
    warehouse = DuckDBHook(project.warehouse_path, lock_timeout=30)
    extracted = extract_source(project, source, warehouse, interval=interval, full_refresh=full_refresh,
                               run_id=run_id, work_dir=work_dir)
    loaded = load_source(project, source, warehouse, owner="test", extracted=extracted.__dict__, run_id=run_id)
    return extracted, loaded


def query(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()
