"""Publish the serving copy of ``dango_transform``'s warehouse, once no node of the run has failed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dango_provider.operators.project import ProjectOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


def blocking_nodes(project_root: Path, run_id: str) -> list[str]:
    """What keeps run ``run_id`` from being published: its nodes whose latest result failed, or that dbt
    skipped after a failure, as ``resource_type name: status``."""
    from dango_provider.core.naming import Naming
    from dango_provider.core.transform_results import not_built, run_nodes

    nodes = run_nodes(Naming.state_dir(project_root), run_id)
    return [f"{n.get('resource_type')} {n.get('name')}: {n.get('status')}" for n in not_built(nodes)]


def publish(warehouse: Any, warehouse_path: Path, owner: str, log: Any) -> dict:
    """Checkpoint the warehouse and replace its serving copy atomically, under the warehouse's write lock."""
    from dango_provider.core.snapshot import serving_path

    with warehouse.write_lock(owner):
        result = warehouse.publish(serving_path(warehouse_path))
    log.info("published %s (%s tables, %s bytes, storage %s by %s)", result["path"], result["tables"],
             result["bytes"], result.get("storage_version"), result.get("method"))
    return result


class PublishSnapshotOperator(ProjectOperator):
    """Checkpoint the warehouse and publish ``data/serving/warehouse.duckdb`` atomically, right after
    ``dbt_build``; skipped, saying which, while a node of the run has failed (its own task fails the run,
    and the task that rebuilds it on a clear publishes then).

    Runs in the writer pool and under the warehouse file lock (it opens the warehouse to checkpoint).

    :param project_dir: the dango project directory (templated)
    """

    ui_color = "#d5f5e3"

    def execute(self, context: Context) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        blocking = blocking_nodes(self.project.root, context["run_id"])
        if blocking:
            raise AirflowSkipException(
                f"not published: {len(blocking)} node(s) of this run failed or were skipped after a failure "
                f"({'; '.join(blocking)}); their tasks fail the run with dbt's message, and the serving copy "
                "keeps the last published build. A cleared task that rebuilds its node publishes once no node "
                "of this run has failed.")
        return publish(self.warehouse, self.project.warehouse_path, self.lock_owner(context), self.log)
