"""Generate dbt docs at the end of ``dango_transform``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class DbtDocsOperator(BaseOperator):
    """``dbt docs generate`` and publish the site to ``data/serving/docs`` (served at ``/dango/docs/``).

    Runs in the writer pool and under the warehouse file lock: the catalog query opens the warehouse.

    :param project_dir: the dango project directory (templated)
    """

    template_fields: Sequence[str] = ("project_dir",)
    ui_color = "#eaf2f8"

    def __init__(self, *, project_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_dir = project_dir

    def execute(self, context: Context) -> dict:
        from dango_provider.config.loader import load_project
        from dango_provider.core.dbt_docs import generate_docs
        from dango_provider.core.naming import Naming
        from dango_provider.hooks.warehouse import warehouse_for
        from dango_provider.settings import load_settings

        project = load_project(self.project_dir)
        warehouse = warehouse_for(project, lock_timeout=load_settings().lock_timeout)
        ti = context["ti"]
        with warehouse.write_lock(f"{ti.dag_id}.{ti.task_id} run {context['run_id']}"):
            result = generate_docs(project.dbt_dir, warehouse.dbt_env(), Naming.docs_dir(project.warehouse_path),
                                   target=project.config.dbt.target)
        self.log.info("dbt docs published to %s", result["path"])
        return result
