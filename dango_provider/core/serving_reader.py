"""Read the read-only serving copy (``data/serving/warehouse.duckdb``) for the UI overview and
``dango status``.

Opened read-only with extension loading off; the live warehouse is never opened, so a page view never
waits for a load nor makes one fail. Times are read as epoch microseconds and turned into UTC datetimes
here (no time zone library needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dango_provider.core.duckdb_config import OFFLINE
from dango_provider.core.naming import Naming, quote_identifier

META = Naming.meta_schema


@dataclass
class ServingData:
    """What the serving copy holds; empty when it does not exist or cannot be read (``error`` says why)."""

    path: Path
    exists: bool = False
    published_at: datetime | None = None
    error: str | None = None
    #: source -> its last loads, oldest first: {"at", "rows", "duration_s", "tables": {table: rows}}
    loads: dict[str, list[dict]] = field(default_factory=dict)
    #: source -> drift events not accepted yet: {"table", "column", "kind", "change_class", "detail", ...}
    open_drift: dict[str, list[dict]] = field(default_factory=dict)
    #: source -> latest PII finding per column: {"table", "column", "entity", "action", "score", ...}
    pii: dict[str, list[dict]] = field(default_factory=dict)
    #: [{"schema", "table", "kind": "table" | "view", "rows": int | None}] (dlt's _dlt_* tables and
    #: <dataset>_staging schemas left out)
    relations: list[dict] = field(default_factory=list)


def _utc(epoch_us: int | None) -> datetime | None:
    return None if epoch_us is None else datetime.fromtimestamp(epoch_us / 1_000_000, tz=UTC)


def _meta_tables(con) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ?",
        [META],
    ).fetchall()
    return {r[0] for r in rows}


def _loads(con, max_loads: int) -> dict[str, list[dict]]:
    # one row per table per load; the tables of one load share its finished_at
    rows = con.execute(f"""
        SELECT source, epoch_us(finished_at), sum(rows), max(duration_s),
               list(table_name ORDER BY table_name), list(rows ORDER BY table_name), max(run_id)
        FROM {META}.load_history
        GROUP BY source, finished_at
        QUALIFY row_number() OVER (PARTITION BY source ORDER BY finished_at DESC) <= ?
        ORDER BY source, finished_at
    """, [max_loads]).fetchall()
    out: dict[str, list[dict]] = {}
    for source, at, total, duration, tables, counts, run_id in rows:
        out.setdefault(source, []).append({
            "at": _utc(at), "rows": int(total), "duration_s": float(duration),
            "tables": {t: int(n) for t, n in zip(tables, counts)}, "run_id": run_id,
        })
    return out


def _open_drift(con) -> dict[str, list[dict]]:
    rows = con.execute(f"""
        SELECT source, table_name, column_name, kind, change_class, old, new, detail, action, epoch_us(detected_at)
        FROM {META}.drift_events WHERE accepted_at IS NULL ORDER BY source, detected_at, table_name, column_name
    """).fetchall()
    out: dict[str, list[dict]] = {}
    for source, table, column, kind, change_class, old, new, detail, action, at in rows:
        out.setdefault(source, []).append({
            "table": table, "column": column, "kind": kind, "change_class": change_class, "old": old, "new": new,
            "detail": detail, "action": action, "detected_at": _utc(at),
        })
    return out


def _pii(con) -> dict[str, list[dict]]:
    rows = con.execute(f"""
        SELECT source, table_name, column_name, entity, action, score, share, epoch_us(detected_at)
        FROM {META}.pii_findings
        QUALIFY row_number() OVER (PARTITION BY source, table_name, column_name ORDER BY detected_at DESC) = 1
        ORDER BY source, table_name, column_name
    """).fetchall()
    out: dict[str, list[dict]] = {}
    for source, table, column, entity, action, score, share, at in rows:
        out.setdefault(source, []).append({
            "table": table, "column": column, "entity": entity, "action": action,
            "score": None if score is None else round(float(score), 3),
            "share": None if share is None else round(float(share), 3),
            "detected_at": _utc(at),
        })
    return out


def _relations(con) -> list[dict]:
    relations = []
    for schema, table in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND NOT internal AND NOT temporary AND table_name NOT LIKE '\\_dlt\\_%' ESCAPE '\\' "
        "ORDER BY schema_name, table_name"
    ).fetchall():
        name = f"{quote_identifier(schema)}.{quote_identifier(table)}"
        rows = int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
        relations.append({"schema": schema, "table": table, "kind": "table", "rows": rows})
    # views are listed without counting: counting one runs its query over the whole warehouse
    for schema, view in con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = current_database() "
        "AND NOT internal AND NOT temporary ORDER BY schema_name, view_name"
    ).fetchall():
        relations.append({"schema": schema, "table": view, "kind": "view", "rows": None})
    relations.sort(key=lambda r: (r["schema"], r["table"]))
    return _without_dlt_staging(relations)


def _without_dlt_staging(relations: list[dict]) -> list[dict]:
    """Leave out dlt's staging datasets (``<dataset>_staging``, where a merge lands before it is applied):
    a schema ``X_staging`` is one when ``X`` is a schema of the warehouse too."""
    schemas = {r["schema"] for r in relations}
    return [r for r in relations
            if not (r["schema"].endswith("_staging") and r["schema"][: -len("_staging")] in schemas)]


def read_serving_copy(path: Path, *, max_loads: int = 30) -> ServingData:
    """Everything the overview shows from the serving copy at ``path`` (read-only)."""
    import duckdb

    data = ServingData(path=path, exists=path.is_file())
    if not data.exists:
        return data
    data.published_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    try:
        con = duckdb.connect(str(path), read_only=True, config=OFFLINE)
    except duckdb.Error as exc:
        data.error = f"{type(exc).__name__}: {exc}"
        return data
    try:
        meta = _meta_tables(con)
        if "load_history" in meta:
            data.loads = _loads(con, max_loads)
        if "drift_events" in meta:
            data.open_drift = _open_drift(con)
        if "pii_findings" in meta:
            data.pii = _pii(con)
        data.relations = _relations(con)
    except duckdb.Error as exc:
        data.error = f"{type(exc).__name__}: {exc}"
    finally:
        con.close()
    return data
