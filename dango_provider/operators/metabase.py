"""Refresh Metabase after ``dango_transform`` publishes the serving copy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowNotFoundException, AirflowSkipException

from dango_provider.metabase.settings import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context


class MetabaseRefreshOperator(BaseOperator):
    """Set Metabase up for the serving copy (idempotent) and request a schema sync and values rescan.

    Metabase is optional: without the Airflow connection ``metabase_conn_id`` the task only logs that
    there is nothing to refresh. Skipped, saying why, when the run was not published (a node of it
    failed): the serving copy did not change. With the connection, any failure (Metabase unreachable,
    login refused, sync not seen in time) fails the task. Runs in no pool: it reads only the serving
    copy, never the live warehouse.

    :param project_dir: the dango project directory (templated)
    :param metabase_conn_id: the Airflow connection of Metabase (templated); login is the admin's
        email, password the admin's password
    """

    template_fields: Sequence[str] = ("project_dir", "metabase_conn_id")
    ui_color = "#e8f0fe"

    def __init__(self, *, project_dir: str, metabase_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.metabase_conn_id = metabase_conn_id

    def execute(self, context: Context) -> dict | None:
        from dango_provider.config.loader import find_sources_file, project_root_for
        from dango_provider.core.naming import Naming
        from dango_provider.core.snapshot import serving_path
        from dango_provider.core.transform_results import not_published
        from dango_provider.metabase.provision import refresh_metabase
        from dango_provider.metabase.settings import MetabaseSettings
        from dango_provider.settings import load_configured_project as load_project

        reason = not_published(Naming.state_dir(project_root_for(find_sources_file(self.project_dir))), context["run_id"])
        if reason:
            raise AirflowSkipException(reason)
        try:
            connection = BaseHook.get_connection(self.metabase_conn_id)
        except AirflowNotFoundException:
            self.log.info("no Airflow connection '%s': Metabase is not configured, nothing to refresh",
                          self.metabase_conn_id)
            return None
        project = load_project(self.project_dir)
        settings = MetabaseSettings.from_connection(connection, self.metabase_conn_id)
        report = refresh_metabase(settings, serving_path(project.warehouse_path))
        database = report["database"]
        self.log.info("Metabase %s at %s: admin %s; database '%s' (id %s) %s; %d tables, hid %d; sync and "
                      "field values rescan requested", report.get("metabase_version") or "", report["url"],
                      report["admin"], database["name"], database["id"], database["action"], report["tables"],
                      len(report["hidden"]))
        return report
