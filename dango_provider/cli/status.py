"""``dango status``: per source its last load and state, and the tables of the serving copy.

Reads only files nobody holds for writing: the state files under ``.dango/state`` and the read-only
serving copy ``data/serving/warehouse.duckdb``. It never opens the live warehouse (a load may hold
it) and never takes the warehouse write lock, so it neither waits for nor delays a load.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from dango_provider.cli.common import (
    add_json_option,
    add_project_option,
    print_json,
    print_table,
    project_path,
    yes_no,
)
from dango_provider.core.times import parse_utc


def _state(changes: list[dict] | None, last_load: dict | None, failure: dict | None,
           error_after: timedelta | None) -> str:
    """failed (newer than the last load), blocked, stale (older than freshness.error_after), ok, never loaded."""
    from dango_provider.core.governance_state import current_failure

    failure = current_failure(failure, last_load and last_load["at"])
    if failure:
        where = f"{failure.get('dag_id')}.{failure.get('task_id')} run {failure.get('run_id')}"
        log = f", log: {failure['log_url']}" if failure.get("log_url") else ""
        return f"failed: {failure.get('error')} ({where}{log})"
    if changes is not None:
        return f"blocked by schema drift ({len(changes)} change{'' if len(changes) == 1 else 's'})"
    if last_load is None:
        return "never loaded"
    if error_after is not None and datetime.now(UTC) - last_load["at"] > error_after:
        return f"stale (last load older than freshness.error_after {error_after})"
    return "ok"


def _warehouse_state(source, replaced: str | None) -> str | None:
    if not replaced:
        return None
    if source.is_file_source:
        return f"reload pending: {replaced}; its next run reads every file again"
    return f"needs full_refresh: {replaced}; trigger it with --conf '{{\"full_refresh\": true}}'"


def collect_status(project) -> dict[str, Any]:
    from dango_provider.config.model import effective_freshness
    from dango_provider.core.governance_state import drift_blocked, last_failure, ready_info
    from dango_provider.core.serving_reader import read_serving_copy
    from dango_provider.core.snapshot import serving_path
    from dango_provider.core.warehouse_identity import replaced_since_last_load
    from dango_provider.sources.pipeline import source_state_dir

    serving = read_serving_copy(serving_path(project.warehouse_path), max_loads=1)
    serving_info: dict[str, Any] = {"path": str(serving.path), "exists": serving.exists,
                                    "published_at": serving.published_at, "error": serving.error}
    last_loads = {source: {"at": loads[-1]["at"], "rows": loads[-1]["rows"]} for source, loads in serving.loads.items()}
    tables = [{"schema": r["schema"], "table": r["table"], "rows": r["rows"]}
              for r in serving.relations if r["kind"] == "table"]

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
            "state": _warehouse_state(source, replaced_since_last_load(state_dir, project.warehouse_path))
            or _state(changes, last_load, last_failure(state_dir), effective_freshness(project.config.defaults, source)[1]),
            "drift_changes": len(changes) if changes is not None else 0,
            "last_load": last_load,
        })
    from dango_provider.core.naming import Naming
    from dango_provider.core.transform_results import FAILED, recent_runs

    last = recent_runs(Naming.state_dir(project.root), limit=1)
    transform = last and {**{k: last[0][k] for k in ("run_id", "started_at", "updated_at", "counts")},
                          "failures": [n for n in last[0]["nodes"] if n["status"] in FAILED]}
    return {"project": str(project.root), "file": str(project.sources_file), "serving_copy": serving_info,
            "sources": sources, "tables": tables, "transform": transform or None}


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
    transform = status["transform"]
    print()
    if transform:
        counts = ", ".join(f"{n} {state}" for state, n in sorted(transform["counts"].items()))
        print(f"transform: last run {transform['run_id']} (last result {transform['updated_at']}): {counts}")
        for node in transform["failures"]:
            print(f"  {node['status']}: {node['resource_type']} {node['name']} ({node['task_id']}): "
                  f"{(node['message'] or '').splitlines()[0] if node['message'] else 'no message'}")
    else:
        print("transform: no dbt result recorded yet")


def _status(args: argparse.Namespace) -> int:
    import time

    from dango_provider.config.loader import load_project

    project = load_project(project_path(args.project))
    try:
        while True:
            status = collect_status(project)
            if args.json:
                print_json(_jsonable(status))
            else:
                if args.watch:
                    print(f"\x1b[H\x1b[2J{datetime.now(UTC).isoformat(timespec='seconds')} "
                          f"(every {args.watch:g} s; Ctrl-C stops)")
                _print_text(status)
            if not args.watch:
                return 0
            sys.stdout.flush()
            time.sleep(args.watch)
    except KeyboardInterrupt:  # --watch ends here
        return 0


def register(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(
        "status", help="per source: enabled, last load, rows, state; tables of the serving copy",
        description="Per source: enabled, last load time and rows, and state (never loaded, ok, or blocked "
                    "by schema drift); then the warehouse tables with their row counts. Loads and tables "
                    "come from the read-only serving copy (data/serving/warehouse.duckdb) when it exists, "
                    "else load times come from the state files under .dango/state and rows are unknown. "
                    "Never opens the live warehouse and never takes its write lock, so it works while a "
                    "load runs. Last, the latest dango_transform run: its dbt results by status and each "
                    "failed model or test with dbt's message.")
    add_project_option(status)
    add_json_option(status)
    status.add_argument("--watch", nargs="?", type=float, const=2.0, default=None, metavar="SECONDS",
                        help="print it again every SECONDS (default 2) until Ctrl-C, to follow a run")
    status.set_defaults(func=_status)
