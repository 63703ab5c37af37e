"""Load history in ``dango_meta``: one row per table per load. Plain SQL on a DB-API connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dango_provider.core.naming import Naming

TABLE = f"{Naming.meta_schema}.load_history"

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {Naming.meta_schema};
CREATE TABLE IF NOT EXISTS {TABLE} (
    source VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    load_id VARCHAR,
    files INTEGER,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    duration_s DOUBLE NOT NULL,
    data_interval_start TIMESTAMPTZ,
    data_interval_end TIMESTAMPTZ,
    run_id VARCHAR
);
"""


@dataclass(frozen=True)
class LoadRecord:
    source: str
    table_name: str
    rows: int
    load_id: str | None
    files: int
    started_at: datetime
    finished_at: datetime
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    run_id: str | None = None


def record_loads(connection, records: list[LoadRecord]) -> None:
    connection.execute(DDL)
    for r in records:
        connection.execute(
            f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [r.source, r.table_name, r.rows, r.load_id, r.files, r.started_at, r.finished_at,
             (r.finished_at - r.started_at).total_seconds(), r.data_interval_start, r.data_interval_end, r.run_id],
        )
