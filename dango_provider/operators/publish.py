"""Publish the serving copy at the end of ``dango_transform``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dango_provider.operators.project import ProjectOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class PublishSnapshotOperator(ProjectOperator):
    """Checkpoint the warehouse and publish ``data/serving/warehouse.duckdb`` atomically.

    Runs in the writer pool and under the warehouse file lock (it opens the warehouse to checkpoint).

    :param project_dir: the dango project directory (templated)
    """

    ui_color = "#d5f5e3"

    def execute(self, context: Context) -> dict:
        from dango_provider.core.snapshot import serving_path

        with self.warehouse.write_lock(self.lock_owner(context)):
            result = self.warehouse.publish(serving_path(self.project.warehouse_path))
        self.log.info("published %s (%s tables, %s bytes, storage %s by %s)", result["path"], result["tables"],
                      result["bytes"], result.get("storage_version"), result.get("method"))
        return result
