"""The data of the overview page and of ``/dango/api/overview``, as one JSON-ready dict.

Per source: type, schedule, the names of its credentials (an Airflow connection id, environment
variable names; never a value), last load, last DAG run, open schema drift, PII findings and
freshness; then the warehouse's schemas and tables with row counts. Reads sources.yml, the state
files under ``.dango/state`` and the read-only serving copy; never the live warehouse.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dango_provider.config.credential_names import credential_names
from dango_provider.config.model import effective_freshness
from dango_provider.core.governance_state import (
    current_failure,
    drift_blocked,
    last_failure,
    ready_info,
    transform_scope,
)
from dango_provider.core.naming import Naming
from dango_provider.core.serving_reader import ServingData, read_serving_copy
from dango_provider.core.snapshot import serving_path
from dango_provider.core.times import parse_utc
from dango_provider.core.transform_results import recent_runs

#: DAG run states shown as they are; anything else a source can be in is named below
BLOCKED = "blocked by schema drift"
FAILED = "failed"
LOADED = "loaded"
NEVER_LOADED = "never loaded"
#: rows of the page's table of recent loads, all sources together
RECENT_LOADS = 15


def duration_text(value: timedelta | float | None) -> str | None:
    """``6h``, ``1d``, ``90m``, ``45s``: the largest unit that divides the duration."""
    if value is None:
        return None
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def freshness(loaded_at: datetime | None, warn: timedelta | None, error: timedelta | None,
              now: datetime) -> dict[str, Any]:
    """Age of the last load against the thresholds, with the rule of the freshness sensor:
    never loaded or older than ``error`` is ``error``, older than ``warn`` is ``warn``, else ``fresh``;
    ``not checked`` when the source has no threshold."""
    age = None if loaded_at is None else (now - loaded_at).total_seconds()
    if warn is None and error is None:
        status = "not checked"
    elif age is None or (error is not None and age > error.total_seconds()):
        status = "error"
    elif warn is not None and age > warn.total_seconds():
        status = "warn"
    else:
        status = "fresh"
    return {"status": status, "age_s": None if age is None else round(age, 1),
            "warn_after": duration_text(warn), "error_after": duration_text(error)}


def _last_load(loads: list[dict], state: dict | None) -> dict | None:
    """The newest load: from the serving copy, or from the state file when a load came after it."""
    served = loads[-1] if loads else None
    state_at = parse_utc((state or {}).get("loaded_at")) or parse_utc((state or {}).get("ready_at"))
    if served and (state_at is None or state_at <= served["at"]):
        return {**served, "from": "serving copy"}
    if state_at:
        return {"at": state_at, "rows": None, "duration_s": None, "tables": {}, "from": "state"}
    return None


def _status(blocked: bool, failure: dict | None, last_run: dict | None, last_load: dict | None) -> str:
    if failure:
        return FAILED
    if blocked:
        return BLOCKED
    if last_run:
        return last_run["state"]
    return LOADED if last_load else NEVER_LOADED


def _failure(failure: dict | None, airflow_root: str) -> dict | None:
    """The failure shown: its first line, when, the task and a link to its log in the Airflow UI."""
    if not failure:
        return None
    log_url = failure.get("log_url")
    if not log_url and failure.get("dag_id") and failure.get("run_id") and failure.get("task_id"):
        log_url = f"{airflow_root}/dags/{failure['dag_id']}/runs/{failure['run_id']}/tasks/{failure['task_id']}"
    return {"error": failure.get("error") or "the task failed", "at": parse_utc(failure.get("failed_at")),
            "dag_id": failure.get("dag_id"), "task_id": failure.get("task_id"), "run_id": failure.get("run_id"),
            "log_url": log_url}


def _transform(scope: dict | None, runs: list[dict], airflow_root: str) -> dict | None:
    """What the last ``dango_transform`` run decided to build (left-out models with the sources they wait
    for) and dbt's results of the last runs: per run the counts, per node of the newest run its status,
    duration, rows and message, failures first, a failed test with its compiled SQL."""
    if scope is None and not runs:
        return None
    scope = scope or {}
    return {"run_id": scope.get("run_id"), "at": parse_utc(scope.get("decided_at")),
            "runs": [{**run, "started_at": parse_utc(run.get("started_at")),
                      "updated_at": parse_utc(run.get("updated_at"))} for run in runs],
            "skipped": scope.get("skipped"), "not_ready": scope.get("not_ready") or [],
            "left_out": [{"node": node, "waits_for": waits} for node, waits in sorted((scope.get("left_out") or {}).items())],
            "dag_url": f"{airflow_root}/dags/{Naming.transform_dag_id}"}


def source_of_dag(project) -> dict[str, str]:
    return {Naming.ingest_dag_id(s.name): s.name for s in project.config.sources}


def _run_rows(history: list[dict], serving: ServingData, project) -> list[dict]:
    """Ingest runs with their outcome: state, start, seconds, and the rows their load wrote (a run that
    loaded nothing new has none; a failed one has its source's failure line when it is the recorded one)."""
    rows_by_run = {load.get("run_id"): load["rows"] for loads in serving.loads.values() for load in loads
                   if load.get("run_id")}
    source_of = source_of_dag(project)
    out = []
    for run in history:
        start, end = run.get("start_date"), run.get("end_date")
        out.append({"source": source_of.get(run["dag_id"], run["dag_id"]), "run_id": run["run_id"],
                    "state": run["state"], "start": start,
                    "seconds": (end - start).total_seconds() if start and end else None,
                    "rows": rows_by_run.get(run["run_id"])})
    return out


def _lineage(project) -> dict[str, list[str]]:
    """Per source the models built from it, from the dbt manifest of the last parse (empty without one)."""
    import json

    from dango_provider.core.transform_scope import feeds

    try:
        manifest = json.loads(Naming.manifest_path(project.dbt_dir).read_text())
    except (OSError, ValueError):
        return {}
    return feeds(manifest, [s.name for s in project.config.sources])


def hidden_schemas(source_names: list[str]) -> set[str]:
    """dlt's staging datasets of replace loads (``raw_<source>_staging``): internal, not shown."""
    raw = {Naming.raw_schema(n) for n in source_names}
    return {f"{schema}_staging" for schema in raw} - raw


def collect_overview(project, *, now: datetime | None = None, last_runs: dict[str, dict] | None = None,
                     airflow_root: str = "", serving: ServingData | None = None,
                     run_history: list[dict] | None = None, only: str | None = None) -> dict[str, Any]:
    """The overview of ``project`` (a loaded ``Project``).

    :param last_runs: dag_id -> {"run_id", "state", "start_date", "end_date"} of the newest run of
        each ingest DAG the user may read (from Airflow's metadata database)
    :param airflow_root: path prefix of the Airflow UI (``[api] base_url``), for DAG links
    :param serving: the serving copy already read (default: read it now)
    :param run_history: the newest ingest DAG runs the user may read, newest first, each
        {"dag_id", "run_id", "state", "start_date", "end_date"} (from Airflow's metadata database)
    :param only: the name of one source: the overview of that source alone (its loads and runs)
    """
    from dango_provider.sources.pipeline import source_state_dir

    now = now or datetime.now(UTC)
    last_runs = last_runs or {}
    serving = serving or read_serving_copy(serving_path(project.warehouse_path))
    defaults = project.config.defaults
    sources = []
    for source in project.config.sources:
        if only not in (None, source.name):
            continue
        state_dir = source_state_dir(project, source)
        blocked_changes = drift_blocked(state_dir)
        loads = serving.loads.get(source.name, [])
        last_load = _last_load(loads, ready_info(state_dir))
        failure = _failure(current_failure(last_failure(state_dir), last_load and last_load["at"]), airflow_root)
        dag_id = Naming.ingest_dag_id(source.name)
        last_run = last_runs.get(dag_id)
        open_drift: list[dict] = []
        if blocked_changes is not None:
            # the state file is current (acceptance removes it); the serving copy may predate the block
            open_drift = serving.open_drift.get(source.name) or [
                {"table": c.get("table"), "column": c.get("column"), "kind": c.get("kind"),
                 "change_class": c.get("change_class"), "old": c.get("old"), "new": c.get("new"),
                 "detail": c.get("detail"), "action": c.get("action"), "detected_at": None}
                for c in blocked_changes
            ]
        warn, error = effective_freshness(defaults, source)
        sources.append({
            "name": source.name,
            "type": source.type,
            "enabled": source.enabled,
            "description": source.description,
            "schedule": source.schedule or defaults.schedule,
            "credentials": credential_names(source.options),
            "dag_id": dag_id,
            "dag_url": f"{airflow_root}/dags/{dag_id}",
            "status": _status(blocked_changes is not None, failure, last_run, last_load),
            "failure": failure,
            "last_load": last_load,
            "last_run": last_run,
            "loads": [{"at": load["at"], "rows": load["rows"], "duration_s": load.get("duration_s")}
                      for load in loads],
            "drift": {"blocked": blocked_changes is not None, "open": open_drift},
            "pii": serving.pii.get(source.name, []),
            "freshness": freshness(last_load and last_load["at"], warn, error, now),
        })
    lineage = _lineage(project)
    for entry in sources:
        entry["feeds"] = lineage.get(entry["name"], [])
    hidden = hidden_schemas([s.name for s in project.config.sources])
    schemas: dict[str, list[dict]] = {}
    for relation in serving.relations:
        if relation["schema"] not in hidden:
            schemas.setdefault(relation["schema"], []).append(
                {"name": relation["table"], "kind": relation["kind"], "rows": relation["rows"]})
    return {
        "generated_at": now,
        "project": {"root": str(project.root), "sources_file": str(project.sources_file), "error": None},
        "only": only if any(s["name"] == only for s in sources) else None,
        "transform": _transform(transform_scope(Naming.state_dir(project.root)),
                                recent_runs(Naming.state_dir(project.root)), airflow_root),
        "serving_copy": {"path": str(serving.path), "exists": serving.exists, "published_at": serving.published_at,
                         "error": serving.error},
        "sources": sources,
        "recent_loads": sorted(({"source": s["name"], **load} for s in sources for load in s["loads"]),
                               key=lambda load: load["at"], reverse=True)[:RECENT_LOADS],
        "recent_runs": _run_rows([run for run in run_history or []
                                  if only in (None, source_of_dag(project).get(run["dag_id"]))], serving, project),
        "schemas": [{"name": name, "tables": tables} for name, tables in schemas.items()],
    }


def config_error_overview(message: str, sources_file: str | None, now: datetime | None = None) -> dict[str, Any]:
    """The overview when sources.yml cannot be loaded: the loader's message and nothing else."""
    return {
        "generated_at": now or datetime.now(UTC),
        "project": {"root": None, "sources_file": sources_file, "error": message},
        "transform": None,
        "serving_copy": {"path": None, "exists": False, "published_at": None, "error": None},
        "sources": [],
        "recent_loads": [],
        "recent_runs": [],
        "schemas": [],
    }


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO 8601 strings (for the JSON endpoint)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
