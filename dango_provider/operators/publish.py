"""Publish the serving copy at the end of ``dango_transform``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class PublishSnapshotOperator(BaseOperator):
    """Checkpoint the warehouse and publish ``data/serving/warehouse.duckdb`` atomically.

    Runs in the writer pool and under the warehouse file lock (it opens the warehouse to checkpoint).

    :param project_dir: the dango project directory (templated)
    """

    template_fields: Sequence[str] = ("project_dir",)
    ui_color = "#d5f5e3"

    def __init__(self, *, project_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_dir = project_dir

    def execute(self, context: Context) -> dict:
        from dango_provider.config.loader import load_project
        from dango_provider.core.snapshot import publish, serving_path
        from dango_provider.hooks.warehouse import warehouse_for
        from dango_provider.settings import load_settings

        project = load_project(self.project_dir)
        warehouse = warehouse_for(project, lock_timeout=load_settings().lock_timeout)
        ti = context["ti"]
        with warehouse.write_lock(f"{ti.dag_id}.{ti.task_id} run {context['run_id']}"):
            result = publish(project.warehouse_path, serving_path(project.warehouse_path))
        self.log.info("published %s (%d tables, %d bytes)", result["path"], result["tables"], result["bytes"])
        return result
