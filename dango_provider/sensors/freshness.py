"""``FreshnessSensor``: the transform waits for stale sources, then fails naming them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dango_provider.core.freshness import evaluate
from dango_provider.exceptions import FreshnessError
from dango_provider.sensors.base import StateSensor
from dango_provider.triggers.freshness import FreshnessTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class FreshnessSensor(StateSensor):
    """Check every source's last successful load against its ``freshness`` thresholds.

    Older than ``warn_after``: a warning in the log. Older than ``error_after`` (or never loaded):
    wait for a newer load, and fail with the stale sources when the timeout passes. Reads state files
    only; never in the writer pool.

    :param project_dir: the dango project directory (templated)
    """

    ui_color = "#d6eaf8"

    def _inputs(self):
        from dango_provider.config.model import effective_freshness

        project = self.project
        thresholds = {}
        for source in project.enabled_sources:
            warn, error = effective_freshness(project.config.defaults, source)
            thresholds[source.name] = (warn and warn.total_seconds(), error and error.total_seconds())
        return self.state_dirs(), thresholds

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

    def trigger(self, deadline: str) -> FreshnessTrigger:
        dirs, thresholds = self._inputs()
        return FreshnessTrigger(state_dirs={k: str(v) for k, v in dirs.items()},
                                thresholds={k: list(v) for k, v in thresholds.items()},
                                deadline=deadline, poll_interval=self.poke_interval)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> None:
        if event.get("status") == "fresh":
            self.log.info("every source is within its error_after threshold")
            return
        self._alert_stale(context)
        raise FreshnessError("stale sources: " + "; ".join(event.get("stale", [])))

    def _alert_stale(self, context: Context) -> None:
        from dango_provider.hooks.alerts import send_alerts

        project = self.project
        dirs, thresholds = self._inputs()
        for result in evaluate(dirs, thresholds):
            if result.status == "error":
                send_alerts(project, project.source(result.source), "stale", result.describe(), context, self.log)
