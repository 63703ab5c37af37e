"""Base operators: one acting on a dango project, one acting on a source of it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class ProjectOperator(BaseOperator):
    """Base of the operators that act on a dango project.

    :param project_dir: the dango project directory (templated)
    """

    template_fields: Sequence[str] = ("project_dir",)

    def __init__(self, *, project_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_dir = project_dir

    @cached_property
    def project(self):
        from dango_provider.settings import load_configured_project as load_project

        return load_project(self.project_dir)

    @cached_property
    def warehouse(self):
        from dango_provider.hooks.warehouse import warehouse_for

        return warehouse_for(self.project)

    @staticmethod
    def lock_owner(context: Context) -> str:
        """Who holds the warehouse lock, as a waiting writer's message names it."""
        from dango_provider.hooks.warehouse import lock_owner

        ti = context["ti"]
        return lock_owner(ti.dag_id, ti.task_id, context["run_id"])


class SourceOperator(ProjectOperator):
    """Base of the operators that act on one source of a project.

    :param source_name: the source in sources.yml (templated)
    """

    template_fields: Sequence[str] = ("project_dir", "source_name")

    def __init__(self, *, source_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_name = source_name

    @cached_property
    def source(self):
        return self.project.source(self.source_name)
