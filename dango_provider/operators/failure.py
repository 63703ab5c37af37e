"""What an ingest failure leaves behind for people: one actionable line first in the task log, and the
source's last failure in provider state, read by ``dango status`` and the plugin overview."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def explain_failures(execute: Callable) -> Callable:
    """Wrap an operator's ``execute``: a provider error is logged as one line a person can act on before
    Airflow prints the traceback."""
    from dango_provider.exceptions import DangoError

    @functools.wraps(execute)
    def wrapper(self, context):
        try:
            return execute(self, context)
        except DangoError as exc:
            self.log.error("%s", first_line(exc))
            raise

    return wrapper


def record_ingest_failure(context: Any) -> None:
    """``on_failure_callback`` of ingest tasks: keep the failure in the source's state until a load succeeds."""
    from dango_provider.core.governance_state import record_failure
    from dango_provider.settings import load_configured_project
    from dango_provider.sources.pipeline import source_state_dir

    task = context["task"]
    project = load_configured_project(task.project_dir)
    source = project.source(task.source_name)
    ti = context["ti"]
    exc = context.get("exception")
    error = first_line(exc) if exc is not None else "the task failed"
    record_failure(source_state_dir(project, source), {
        "dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": context.get("run_id"), "try_number": ti.try_number,
        "error": error, "log_url": getattr(ti, "log_url", None)})
    from dango_provider.hooks.alerts import send_alerts

    event = "pii_block" if ti.task_id == "pii_scan" and "PII policy is block" in error else "failed"
    send_alerts(project, source, event, error, context, getattr(task, "log", None))
