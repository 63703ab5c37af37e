"""A load package that a killed attempt began is loaded again from its start, not resumed.

dlt resumes a package from its job folders, and a job is marked done only after its rows were
committed: a worker killed between the two leaves a job that dlt runs again. Its rows then arrive twice:
appended twice to an ``append`` table, or copied twice into dlt's staging dataset, which dlt truncates
only when a package starts, so the merge inserts both copies. So before a retry loads such a package,
the rows the package's load id wrote to its ``append`` tables are deleted, every job goes back to
``new_jobs`` (the merge jobs dlt added are dropped: it adds them again), and the package's schema update
is pending again, so dlt truncates the staging tables and the tables it replaces. Merge and replace
are idempotent from there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dango_provider.core.naming import quote_identifier

_JOB_FOLDERS = ("new_jobs", "started_jobs", "completed_jobs")


def restart_package(package: Path) -> dict[str, str]:
    """Put every job of ``package`` back to ``new_jobs``; return ``{table: parent table or ''}`` of the
    ``append`` tables it writes, whose rows of the package must go before it loads again."""
    from dlt.common.schema import Schema
    from dlt.common.schema.utils import get_write_disposition
    from dlt.common.storages.load_package import PackageStorage, ParsedLoadJobFileName

    schema = Schema.from_dict(json.loads((package / PackageStorage.SCHEMA_FILE_NAME).read_text()))
    tables: set[str] = set()
    for folder in _JOB_FOLDERS:
        for job in sorted((package / folder).iterdir()) if (package / folder).is_dir() else []:
            parsed = ParsedLoadJobFileName.parse(job.name)
            if parsed.file_format == "sql":  # a merge job dlt added when the table's copy was done
                job.unlink()
                continue
            tables.add(parsed.table_name)
            if folder != "new_jobs":
                job.replace(package / "new_jobs" / job.name)
    shutil.rmtree(package / PackageStorage.PENDING_TRANSITIONS_FOLDER, ignore_errors=True)
    applied = package / PackageStorage.APPLIED_SCHEMA_UPDATES_FILE_NAME
    if applied.exists():
        applied.replace(package / PackageStorage.SCHEMA_UPDATES_FILE_NAME)
    return {t: schema.tables[t].get("parent") or "" for t in sorted(tables)
            if t in schema.tables and get_write_disposition(schema.tables, t) == "append"}


def delete_package_rows(connection, dataset: str, tables: dict[str, str], load_id: str) -> None:
    """Delete what ``load_id`` wrote to ``tables`` (from ``restart_package``) of ``dataset`` and its
    ``_dlt_loads`` entry. Nested tables go first, found through their parent rows."""
    existing = {row[0] for row in connection.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? AND database_name = current_database()",
        [dataset]).fetchall()}

    def rows_of(table: str) -> str:
        parent = tables.get(table)
        if not parent:
            return "_dlt_load_id = $load_id"
        return f"_dlt_parent_id IN (SELECT _dlt_id FROM {_qualified(dataset, parent)} WHERE {rows_of(parent)})"

    def depth(table: str) -> int:
        return 0 if not tables.get(table) else 1 + depth(tables[table])

    for table in sorted(tables, key=depth, reverse=True):
        if table in existing:
            connection.execute(f"DELETE FROM {_qualified(dataset, table)} WHERE {rows_of(table)}",
                               {"load_id": load_id})
    if "_dlt_loads" in existing:
        connection.execute(f"DELETE FROM {_qualified(dataset, '_dlt_loads')} WHERE load_id = ?", [load_id])


def _qualified(dataset: str, table: str) -> str:
    return f"{quote_identifier(dataset)}.{quote_identifier(table)}"
