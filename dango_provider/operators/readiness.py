"""First task of ``dango_transform``: run the dbt project only once every enabled source has loaded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

if TYPE_CHECKING:
    from airflow.sdk import Context


class SourcesReadyOperator(BaseOperator):
    """Skip the transform run (and so every dbt task) while some enabled source has never loaded.

    The dbt project references every source's staging model, so building it before each source has
    loaded once would fail on models that do not exist yet. Reads provider state files only; it
    never opens the warehouse and holds no pool slot. The run after the last first load builds all.

    :param project_dir: the dango project directory (templated)
    """

    template_fields: Sequence[str] = ("project_dir",)
    ui_color = "#f4f6f7"

    def __init__(self, *, project_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_dir = project_dir

    def execute(self, context: Context) -> list[str]:
        from dango_provider.core.governance_state import is_ready
        from dango_provider.settings import load_configured_project as load_project
        from dango_provider.sources.pipeline import source_state_dir

        project = load_project(self.project_dir)
        names = [s.name for s in project.enabled_sources]
        missing = [s.name for s in project.enabled_sources if not is_ready(source_state_dir(project, s))]
        if missing:
            raise AirflowSkipException(
                "not building the dbt project yet: source(s) not loaded and staged yet: " + ", ".join(missing)
                + "; the transform runs again when they load"
            )
        self.log.info("every enabled source has loaded: %s", ", ".join(names))
        return names
