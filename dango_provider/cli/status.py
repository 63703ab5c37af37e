"""``dango status``: per source its last load and state, and the tables of the serving copy.

Reads only files nobody holds for writing: the state files under ``.dango/state`` and the read-only
serving copy ``data/serving/warehouse.duckdb``. It never opens the live warehouse (a load may hold
it) and never takes the warehouse write lock, so it neither waits for nor delays a load.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dango_provider.cli.common import (
    add_json_option,
    add_project_option,
    print_json,
    print_table,
    project_path,
    yes_no,
)
from dango_provider.core.duckdb_config import OFFLINE
from dango_provider.core.times import parse_utc


def _from_epoch_us(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=timezone.utc)


def read_serving_copy(path: Path) -> tuple[dict[str, dict], list[dict]]:
    """({source: {at, rows}} of each source's last load, [{schema, table, rows}]) from the serving copy."""
    import duckdb

    from dango_provider.core.load_history import TABLE
    from dango_provider.core.naming import Naming, quote_identifier

    con = duckdb.connect(str(path), read_only=True, config=OFFLINE)
    try:
        last_loads: dict[str, dict] = {}
        has_history = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = 'load_history'", [Naming.meta_schema]).fetchone()[0]
        if has_history:
            # one row per table per load; the tables of one load share its finished_at
            rows = con.execute(f"""
                SELECT h.source, epoch_us(h.finished_at), sum(h.rows)
                FROM {TABLE} h
                JOIN (SELECT source, max(finished_at) AS finished_at FROM {TABLE} GROUP BY source) last
                  USING (source, finished_at)
                GROUP BY h.source, h.finished_at
            """).fetchall()
            last_loads = {source: {"at": _from_epoch_us(at), "rows": int(total)} for source, at, total in rows}
        tables = []
        for schema, table in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND NOT internal AND NOT temporary AND table_name NOT LIKE '\\_dlt\\_%' ESCAPE '\\' "
            "ORDER BY schema_name, table_name"
        ).fetchall():
            name = f"{quote_identifier(schema)}.{quote_identifier(table)}"
            tables.append({"schema": schema, "table": table,
                           "rows": int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])})
        return last_loads, tables
    finally:
        con.close()


def _state(changes: list[dict] | None, last_load: dict | None) -> str:
    if changes is not None:
        return f"blocked by schema drift ({len(changes)} change{'' if len(changes) == 1 else 's'})"
    return "ok" if last_load else "never loaded"


def collect_status(project) -> dict[str, Any]:
    from dango_provider.core.governance_state import drift_blocked, ready_info
    from dango_provider.core.snapshot import serving_path
    from dango_provider.sources.pipeline import source_state_dir

    serving = serving_path(project.warehouse_path)
    serving_info: dict[str, Any] = {"path": str(serving), "exists": serving.is_file(), "published_at": None,
                                    "error": None}
    last_loads: dict[str, dict] = {}
    tables: list[dict] = []
    if serving_info["exists"]:
        import duckdb

        serving_info["published_at"] = datetime.fromtimestamp(serving.stat().st_mtime, tz=timezone.utc)
        try:
            last_loads, tables = read_serving_copy(serving)
        except duckdb.Error as exc:
            serving_info["error"] = f"{type(exc).__name__}: {exc}"

    sources = []
    for source in project.config.sources:
        state_dir = source_state_dir(project, source)
        changes = drift_blocked(state_dir)
        ready = ready_info(state_dir) or {}
        state_at = parse_utc(ready.get("loaded_at")) or parse_utc(ready.get("ready_at"))
        served = last_loads.get(source.name)
        if served and (state_at is None or state_at <= served["at"]):
            last_load = {**served, "from": "serving copy"}
        elif state_at:  # loaded after the serving copy was published, or no serving copy yet
            last_load = {"at": state_at, "rows": None, "from": "state"}
        else:
            last_load = None
        sources.append({
            "name": source.name,
            "type": source.type,
            "enabled": source.enabled,
            "state": _state(changes, last_load),
            "drift_changes": len(changes) if changes is not None else 0,
            "last_load": last_load,
        })
    return {"project": str(project.root), "file": str(project.sources_file), "serving_copy": serving_info,
            "sources": sources, "tables": tables}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _jsonable(status: dict[str, Any]) -> dict[str, Any]:
    serving = {**status["serving_copy"], "published_at": _iso(status["serving_copy"]["published_at"])}
    sources = [{**s, "last_load": s["last_load"] and {**s["last_load"], "at": _iso(s["last_load"]["at"])}}
               for s in status["sources"]]
    return {**status, "serving_copy": serving, "sources": sources}


def _print_text(status: dict[str, Any]) -> None:
    serving = status["serving_copy"]
    print(f"project: {status['file']}")
    if serving["error"]:
        print(f"serving copy: {serving['path']} could not be read ({serving['error']}); "
              "load times from state files, rows unknown")
    elif serving["exists"]:
        print(f"serving copy: {serving['path']} (published {_iso(serving['published_at'])})")
    else:
        print(f"serving copy: none yet at {serving['path']}; load times from state files, rows unknown")
    if status["sources"]:
        print()
        print_table(["source", "enabled", "last load", "rows", "state"], [
            [s["name"], yes_no(s["enabled"]), _iso(s["last_load"] and s["last_load"]["at"]),
             s["last_load"] and s["last_load"]["rows"], s["state"]]
            for s in status["sources"]
        ])
    else:
        print("no sources")
    if status["tables"]:
        print()
        print_table(["table (serving copy)", "rows"],
                    [[f"{t['schema']}.{t['table']}", t["rows"]] for t in status["tables"]])


def _status(args: argparse.Namespace) -> int:
    from dango_provider.config.loader import load_project

    project = load_project(project_path(args.project))
    status = collect_status(project)
    if args.json:
        print_json(_jsonable(status))
    else:
        _print_text(status)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(
        "status", help="per source: enabled, last load, rows, state; tables of the serving copy",
        description="Per source: enabled, last load time and rows, and state (never loaded, ok, or blocked "
                    "by schema drift); then the warehouse tables with their row counts. Loads and tables "
                    "come from the read-only serving copy (data/serving/warehouse.duckdb) when it exists, "
                    "else load times come from the state files under .dango/state and rows are unknown. "
                    "Never opens the live warehouse and never takes its write lock, so it works while a "
                    "load runs.")
    add_project_option(status)
    add_json_option(status)
    status.set_defaults(func=_status)
