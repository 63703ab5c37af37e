"""Base of the governance sensors: they read provider state files, wait in the triggerer when deferrable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger


class StateSensor(BaseSensorOperator):
    """A sensor over a project's state files. Subclasses give ``poke`` and ``trigger``.

    :param project_dir: the dango project directory (templated)
    :param deferrable: hand the waiting to the triggerer (default True); otherwise reschedule mode
    """

    template_fields: Sequence[str] = ("project_dir",)

    def __init__(self, *, project_dir: str, deferrable: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.deferrable = deferrable

    def state_dirs(self) -> dict:
        from dango_provider.settings import load_configured_project as load_project
        from dango_provider.sources.pipeline import source_state_dir

        project = load_project(self.project_dir)
        return {s.name: source_state_dir(project, s) for s in project.enabled_sources}

    def trigger(self, deadline: str) -> BaseTrigger:
        raise NotImplementedError

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        deadline = (datetime.now(UTC) + timedelta(seconds=self.timeout)).isoformat()
        self.defer(trigger=self.trigger(deadline), method_name="execute_complete")
