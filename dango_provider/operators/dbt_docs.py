"""Generate dbt docs at the end of ``dango_transform``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dango_provider.operators.project import ProjectOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class DbtDocsOperator(ProjectOperator):
    """``dbt docs generate`` and publish the site to ``data/serving/docs`` (served at ``/dango/docs/``).

    Runs in the writer pool and under the warehouse file lock: the catalog query opens the warehouse.

    :param project_dir: the dango project directory (templated)
    """

    ui_color = "#eaf2f8"

    def execute(self, context: Context) -> dict:
        from dango_provider.core.dbt_docs import generate_docs
        from dango_provider.core.naming import Naming

        project = self.project
        with self.warehouse.write_lock(self.lock_owner(context)):
            result = generate_docs(project.dbt_dir, self.warehouse.dbt_env(), Naming.docs_dir(project.warehouse_path),
                                   target=project.config.dbt.target)
        self.log.info("dbt docs published to %s", result["path"])
        return result
