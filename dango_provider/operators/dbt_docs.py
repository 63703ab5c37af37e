"""Generate dbt docs at the end of ``dango_transform``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dango_provider.operators.project import ProjectOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class DbtDocsOperator(ProjectOperator):
    """``dbt docs generate`` (in the task's process) and publish the site to ``data/serving/docs`` (served at ``/dango/docs/``);
    skipped, saying so, when the site is current (same dbt manifest, same tables and columns), or when the
    run was not published (a node of it failed).

    Runs in the writer pool and under the warehouse file lock: the catalog query opens the warehouse.

    :param project_dir: the dango project directory (templated)
    """

    ui_color = "#eaf2f8"

    def execute(self, context: Context) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from dango_provider.core.dbt_cli import run_dbt_in_process
        from dango_provider.core.dbt_docs import docs_key, generate_docs, published_key
        from dango_provider.core.naming import Naming

        project = self.project
        from dango_provider.core.transform_results import not_published

        reason = not_published(Naming.state_dir(project.root), context["run_id"])
        if reason:
            raise AirflowSkipException(reason)
        docs_dir = Naming.docs_dir(project.warehouse_path)
        with self.warehouse.write_lock(self.lock_owner(context)):
            con = self.warehouse.connect()
            try:
                key = docs_key(Naming.manifest_path(project.dbt_dir), con)
            finally:
                con.close()
            if key == published_key(docs_dir):
                raise AirflowSkipException("dbt docs are current: neither the dbt project nor the warehouse's "
                                           f"tables and columns changed since they were published ({docs_dir})")
            result = generate_docs(project.dbt_dir, self.warehouse.dbt_process_env(), docs_dir,
                                   target=project.config.dbt.target, key=key, run=run_dbt_in_process)
        self.log.info("dbt docs published to %s", result["path"])
        return result
