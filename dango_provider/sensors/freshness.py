"""``FreshnessSensor``: the transform waits for stale sources, then fails naming them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Sequence

from airflow.sdk import BaseSensorOperator

from dango_provider.core.freshness import evaluate
from dango_provider.exceptions import FreshnessError
from dango_provider.triggers.freshness import FreshnessTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class FreshnessSensor(BaseSensorOperator):
    """Check every source's last successful load against its ``freshness`` thresholds.

    Older than ``warn_after``: a warning in the log. Older than ``error_after`` (or never loaded):
    wait for a newer load, and fail with the stale sources when the timeout passes. Reads state files
    only; never in the writer pool.

    :param project_dir: the dango project directory (templated)
    :param deferrable: hand the waiting to the triggerer (default True)
    """

    template_fields: Sequence[str] = ("project_dir",)
    ui_color = "#d6eaf8"

    def __init__(self, *, project_dir: str, deferrable: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.deferrable = deferrable

    def _inputs(self):
        from dango_provider.config.loader import load_project
        from dango_provider.config.model import effective_freshness
        from dango_provider.sources.pipeline import source_state_dir

        project = load_project(self.project_dir)
        dirs, thresholds = {}, {}
        for source in project.enabled_sources:
            warn, error = effective_freshness(project.config.defaults, source)
            dirs[source.name] = source_state_dir(project, source)
            thresholds[source.name] = (warn and warn.total_seconds(), error and error.total_seconds())
        return dirs, thresholds

    def poke(self, context: Context) -> bool:
        dirs, thresholds = self._inputs()
        results = evaluate(dirs, thresholds)
        for r in results:
            if r.status == "warn":
                self.log.warning("freshness warning: %s (older than warn_after)", r.describe())
            elif r.status == "error":
                self.log.error("stale: %s (older than error_after)", r.describe())
        if not results:
            self.log.info("no source declares freshness thresholds")
        return all(r.status != "error" for r in results)

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        dirs, thresholds = self._inputs()
        self.defer(
            trigger=FreshnessTrigger(
                state_dirs={k: str(v) for k, v in dirs.items()},
                thresholds={k: list(v) for k, v in thresholds.items()},
                deadline=(datetime.now(timezone.utc) + timedelta(seconds=self.timeout)).isoformat(),
                poll_interval=self.poke_interval,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> None:
        if event.get("status") == "fresh":
            self.log.info("every source is within its error_after threshold")
            return
        raise FreshnessError("stale sources: " + "; ".join(event.get("stale", [])))
