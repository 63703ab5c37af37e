"""Base of the governance sensors: they read provider state files, wait in the triggerer when deferrable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
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

    @cached_property
    def project(self):
        """The project, loaded once per try (after ``project_dir`` is rendered; a try is one process)."""
        from dango_provider.settings import load_configured_project as load_project

        return load_project(self.project_dir)

    def state_dirs(self) -> dict:
        from dango_provider.sources.pipeline import source_state_dir

        project = self.project
        return {s.name: source_state_dir(project, s) for s in project.enabled_sources}

    def _skip_before_any_load(self) -> None:
        """Nothing to guard while no source of the project has loaded: the transform builds nothing then
        (``sources_ready`` skips too), so waiting for a first load here would only fail the run later."""
        from airflow.sdk.exceptions import AirflowSkipException

        from dango_provider.core.governance_state import is_ready

        dirs = self.state_dirs()
        if dirs and not any(is_ready(d) for d in dirs.values()):
            raise AirflowSkipException(f"nothing to check: no source has loaded yet ({', '.join(dirs)})")

    def trigger(self, deadline: str) -> BaseTrigger:
        raise NotImplementedError

    def execute(self, context: Context) -> None:
        self._skip_before_any_load()
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        deadline = (datetime.now(UTC) + timedelta(seconds=self.timeout)).isoformat()
        self.defer(trigger=self.trigger(deadline), method_name="execute_complete")
