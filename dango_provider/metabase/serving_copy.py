"""What Metabase should show of the serving copy: its tables, which of them are internal, its identity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dango_provider.core.duckdb_config import OFFLINE
from dango_provider.core.naming import Naming, quote_literal

#: dlt's bookkeeping tables, in every raw schema
DLT_INTERNAL_TABLES = frozenset({"_dlt_loads", "_dlt_pipeline_state", "_dlt_version"})


def is_internal(schema: str | None, table: str) -> bool:
    """Tables users should not see in Metabase: dlt's bookkeeping and the provider's own ``dango_meta``."""
    return table in DLT_INTERNAL_TABLES or schema == Naming.meta_schema


@dataclass(frozen=True)
class ServingCopy:
    path: Path
    tables: frozenset[tuple[str, str]]  # (schema, table) of its tables (views are not listed)
    identity: str  # changes with every publish: the rename makes a new file

    @property
    def init_sql(self) -> str:
        """The DuckDB database's ``init_sql`` in Metabase: records which copy Metabase should read.

        DuckDB keeps reading a replaced file through an instance that is still open, and Metabase keeps
        its connection pool open; Metabase closes the pool when a database's details change. Writing
        the identity of the newly published copy here changes the details once per publish, so the
        next query and sync open the new file. The statement itself only sets a session variable.
        """
        return f"SET VARIABLE dango_serving_copy = {quote_literal(self.identity)};"


def read_serving_copy(path: Path) -> ServingCopy:
    """The tables of the serving copy (opened read-only; never the live warehouse) and its identity."""
    import duckdb

    stat = path.stat()
    published = datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=UTC).isoformat()
    con = duckdb.connect(str(path), read_only=True, config=OFFLINE)
    try:
        rows = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND NOT internal AND NOT temporary"
        ).fetchall()
    finally:
        con.close()
    return ServingCopy(path=path, tables=frozenset((schema, name) for schema, name in rows),
                       identity=f"published {published}, inode {stat.st_ino}, {stat.st_size} bytes")
