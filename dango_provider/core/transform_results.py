"""What each ``dango_transform`` run built: per model, seed, snapshot and test its status, time, rows and
message, and the compiled SQL of what failed. One JSON file per run under
``.dango/state/transform/runs/``, read by ``dango status`` and the overview without opening the warehouse
or Airflow's database.

Every dbt task of a run writes its own ``target/run_results.json`` (in a temporary copy of the project);
the task merges it into the run's file here, also when dbt failed. Pure file code: no dbt, no Airflow.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from dango_provider.core.secret_text import scrub_url_credentials

RUNS = "runs"
KEEP = 30  # run files kept; older ones are removed when a new run records
SQL_LIMIT = 20_000  # characters of compiled SQL kept for a failed node
FAILED = ("error", "fail", "runtime error")
ORDER = {"error": 0, "fail": 1, "runtime error": 1, "warn": 2, "skipped": 3, "success": 4, "pass": 4}


def runs_dir(state_root: Path) -> Path:
    return state_root / "transform" / RUNS


def _file(state_root: Path, run_id: str) -> Path:
    return runs_dir(state_root) / (re.sub(r"[^A-Za-z0-9._-]", "_", run_id) + ".json")


def node_results(run_results: dict, task_id: str) -> list[dict]:
    """The nodes of one ``run_results.json``, in the form kept per run."""
    out = []
    for result in run_results.get("results") or []:
        unique_id = result.get("unique_id") or ""
        parts = unique_id.split(".")
        status = str(result.get("status") or "")
        adapter = result.get("adapter_response") or {}
        node = {
            "unique_id": unique_id,
            "name": parts[2] if len(parts) > 2 else unique_id,
            "resource_type": parts[0] if parts else "",
            "status": status,
            "execution_time": round(float(result.get("execution_time") or 0), 3),
            "rows": adapter.get("rows_affected"),
            "failures": result.get("failures"),
            "message": scrub_url_credentials(str(result.get("message") or "")) or None,
            "task_id": task_id,
        }
        if status in FAILED and result.get("compiled_code"):
            node["compiled_sql"] = scrub_url_credentials(str(result["compiled_code"])[:SQL_LIMIT])
        out.append(node)
    return out


def record(state_root: Path, run_id: str, run_results: dict, *, task_id: str) -> None:
    """Merge one task's ``run_results.json`` into the file of run ``run_id`` (a node seen again, as on a
    retry, keeps its latest result)."""
    path = _file(state_root, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat()
    with open(path.parent / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            current = {"run_id": run_id, "started_at": now, "nodes": {}}
        for node in node_results(run_results, task_id):
            current["nodes"][node["unique_id"]] = node
        current["updated_at"] = now
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(current, indent=1, sort_keys=True))
        os.replace(tmp, path)
        for old in sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-KEEP]:
            old.unlink(missing_ok=True)


def run_nodes(state_root: Path, run_id: str) -> dict[str, dict]:
    """Unique id -> the latest recorded result of each node of run ``run_id`` (empty when none)."""
    try:
        return json.loads(_file(state_root, run_id).read_text()).get("nodes") or {}
    except (OSError, ValueError):
        return {}


def not_built(nodes: dict[str, dict]) -> list[dict]:
    """The nodes of a run whose latest result is a failure, or that dbt skipped because a node before them
    failed: while there is one, the run's warehouse is not published."""
    return sorted((n for n in nodes.values() if n.get("status") in (*FAILED, "skipped")),
                  key=lambda n: (ORDER.get(str(n.get("status")), 3), n.get("unique_id") or ""))


def not_published(state_root: Path, run_id: str) -> str | None:
    """Why run ``run_id`` is not published (its nodes that failed, or that dbt skipped after a failure),
    None when nothing keeps it from being published."""
    blocking = not_built(run_nodes(state_root, run_id))
    if not blocking:
        return None
    names = "; ".join(f"{n.get('resource_type')} {n.get('name')}: {n.get('status')}" for n in blocking)
    return (f"not published: {len(blocking)} node(s) of this run failed or were skipped after a failure ({names}); "
            "their tasks fail the run with dbt's message, and the serving copy keeps the last published build. "
            "A cleared task that rebuilds its node publishes once no node of this run has failed.")


def recent_runs(state_root: Path, limit: int = 10) -> list[dict]:
    """The last ``limit`` runs, newest first, each with its nodes ordered failures first."""
    found = []
    for path in runs_dir(state_root).glob("*.json"):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    found.sort(key=lambda run: run.get("updated_at") or "", reverse=True)
    return [summarize(run) for run in found[:limit]]


def summarize(run: dict) -> dict:
    nodes = sorted(run.get("nodes", {}).values(),
                   key=lambda n: (ORDER.get(n.get("status"), 3), n.get("resource_type") != "model", n.get("name")))
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node["status"]] = counts.get(node["status"], 0) + 1
    failed = [n for n in nodes if n["status"] in FAILED]
    return {"run_id": run.get("run_id"), "started_at": run.get("started_at"), "updated_at": run.get("updated_at"),
            "counts": counts, "failed": len(failed), "nodes": nodes}
