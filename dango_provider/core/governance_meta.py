"""Governance history in ``dango_meta``: schema baselines, drift events and PII findings.

Plain SQL on a DB-API (DuckDB) connection held by a writer; sampled values are never stored.

The history must outlive the warehouse file (deleted, restored from an old backup, rebuilt): after
each change the three tables are saved as parquet files in the project's state directory (the
journal), and ``ensure`` puts them back into a warehouse whose ``dango_meta`` lacks them.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from dango_provider.core.naming import Naming, quote_identifier, quote_literal

META = Naming.meta_schema

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {META};
CREATE TABLE IF NOT EXISTS {META}.schema_baselines (
    source VARCHAR NOT NULL, schema_json VARCHAR NOT NULL, accepted_at TIMESTAMPTZ NOT NULL,
    accepted_by VARCHAR NOT NULL, current BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS {META}.drift_events (
    source VARCHAR NOT NULL, table_name VARCHAR NOT NULL, column_name VARCHAR, kind VARCHAR NOT NULL,
    change_class VARCHAR NOT NULL, old VARCHAR, new VARCHAR, detail VARCHAR NOT NULL, action VARCHAR NOT NULL,
    detected_at TIMESTAMPTZ NOT NULL, run_id VARCHAR, accepted_by VARCHAR, accepted_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS {META}.pii_findings (
    source VARCHAR NOT NULL, table_name VARCHAR NOT NULL, column_name VARCHAR NOT NULL, entity VARCHAR NOT NULL,
    score DOUBLE, share DOUBLE, sample_size INTEGER, evidence VARCHAR, action VARCHAR NOT NULL,
    detected_at TIMESTAMPTZ NOT NULL, run_id VARCHAR
);
"""


HISTORY_TABLES = ("schema_baselines", "drift_events", "pii_findings")


def ensure(con, journal: Path | None = None) -> None:
    """Create the governance tables; a table this call creates is filled from the ``journal`` directory."""
    existing = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = ?", [META]).fetchall()}
    con.execute(DDL)
    if journal is None:
        return
    for table in HISTORY_TABLES:
        saved = journal / f"{table}.parquet"
        if table not in existing and saved.exists():
            con.execute(f"INSERT INTO {META}.{table} SELECT * FROM read_parquet({quote_literal(str(saved))})")


def save_journal(con, journal: Path) -> None:
    """Save the governance tables to ``journal`` (each file replaced atomically). Callers hold the write lock."""
    journal.mkdir(parents=True, exist_ok=True)
    for table in HISTORY_TABLES:
        target = journal / f"{table}.parquet"
        tmp = journal / f".{table}.parquet.tmp"
        con.execute(f"COPY {META}.{table} TO {quote_literal(str(tmp))} (FORMAT parquet)")
        os.replace(tmp, target)


def raw_columns(con, source: str) -> list[tuple[str, str, str, str]]:
    """(table, column, data_type, is_nullable) of the source's raw tables, dlt's own tables left out."""
    return con.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name NOT LIKE '\\_dlt\\_%' ESCAPE '\\' ORDER BY table_name, ordinal_position",
        [Naming.raw_schema(source)],
    ).fetchall()


def current_baseline(con, source: str) -> dict | None:
    row = con.execute(
        f"SELECT schema_json FROM {META}.schema_baselines WHERE source = ? AND current", [source]
    ).fetchone()
    return None if row is None else json.loads(row[0])


def set_baseline(con, source: str, schema: dict, accepted_by: str) -> None:
    con.execute(f"UPDATE {META}.schema_baselines SET current = false WHERE source = ? AND current", [source])
    con.execute(
        f"INSERT INTO {META}.schema_baselines VALUES (?, ?, ?, ?, true)",
        [source, json.dumps(schema, sort_keys=True), datetime.now(UTC), accepted_by],
    )


def record_drift(con, source: str, changes: list[dict], run_id: str | None) -> None:
    now = datetime.now(UTC)
    for c in changes:
        accepted = c["action"] in ("evolve", "warn")
        con.execute(
            f"INSERT INTO {META}.drift_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [source, c["table"], c.get("column"), c["kind"], c["change_class"], c.get("old"), c.get("new"),
             c["detail"], c["action"], now, run_id, "policy" if accepted else None, now if accepted else None],
        )


def accept_drift(con, source: str, accepted_by: str) -> int:
    """Mark the source's open (blocked) drift events accepted; return how many."""
    rows = con.execute(
        f"UPDATE {META}.drift_events SET accepted_by = ?, accepted_at = ? "
        f"WHERE source = ? AND accepted_at IS NULL RETURNING 1",
        [accepted_by, datetime.now(UTC), source],
    ).fetchall()
    return len(rows)


def record_pii(con, source: str, findings: list[dict], run_id: str | None) -> None:
    now = datetime.now(UTC)
    for f in findings:
        con.execute(
            f"INSERT INTO {META}.pii_findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [source, f["table"], f["column"], f["entity"], f.get("score"), f.get("share"), f.get("sample_size"),
             f.get("evidence"), f["action"], now, run_id],
        )


def sample_distinct(con, source: str, table: str, column: str, size: int) -> list[str]:
    """Up to ``size`` distinct non-null values of a raw column, as text (for the PII scan only)."""

    relation = f"{quote_identifier(Naming.raw_schema(source))}.{quote_identifier(table)}"
    col = quote_identifier(column)
    sql = (f"SELECT v FROM (SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM {relation} WHERE {col} IS NOT NULL) "
           f"USING SAMPLE reservoir({int(size)} ROWS) REPEATABLE (7)")
    return [r[0] for r in con.execute(sql).fetchall()]


