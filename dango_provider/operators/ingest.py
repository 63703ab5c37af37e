"""Ingest operators: extract + normalize outside the writer pool, load inside it."""

from __future__ import annotations

from dataclasses import asdict
from functools import cached_property
from typing import TYPE_CHECKING, Any, Sequence

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

if TYPE_CHECKING:
    from airflow.sdk import Context

class SourceOperator(BaseOperator):
    """Base of the operators that act on one source of a project."""

    template_fields: Sequence[str] = ("project_dir", "source_name")

    def __init__(self, *, project_dir: str, source_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.source_name = source_name

    @cached_property
    def project(self):
        from dango_provider.config.loader import load_project

        return load_project(self.project_dir)

    @cached_property
    def source(self):
        return self.project.source(self.source_name)

    @cached_property
    def warehouse(self):
        from dango_provider.hooks.warehouse import warehouse_for
        from dango_provider.settings import load_settings

        return warehouse_for(self.project, lock_timeout=load_settings().lock_timeout)

class DltExtractOperator(SourceOperator):
    """Read the source's new data and normalize it into a dlt load package.

    File sources read their new and changed files; API and database sources read the run's data
    interval (or continue from the stored cursor when the run has none). Holds no warehouse lock and
    needs no pool slot: nothing is written to the warehouse here. Skips (and so skips the load) when
    there is nothing new.
    ``--conf '{"full_refresh": true}'`` reads every file again.

    :param project_dir: the dango project directory (templated)
    :param source_name: the source in sources.yml (templated)
    """

    ui_color = "#e8f4ea"

    def execute(self, context: Context) -> dict:
        from dango_provider.sources.interval import Interval
        from dango_provider.sources.runner import NothingToLoad, extract_source

        conf = (context.get("dag_run") and context["dag_run"].conf) or {}
        interval = Interval(context.get("data_interval_start"), context.get("data_interval_end"),
                            full_refresh=bool(conf.get("full_refresh")))
        try:
            result = extract_source(self.project, self.source, self.warehouse, full_refresh=interval.full_refresh,
                                    interval=interval, run_id=context["run_id"])
        except NothingToLoad as exc:
            raise AirflowSkipException(str(exc)) from exc
        return asdict(result)

class DltLoadOperator(SourceOperator):
    """Load the source's pending dlt packages into the warehouse, under the write lock.

    Runs in the writer pool. Records load history in ``dango_meta`` and commits file fingerprints
    only after the load succeeded, so a failed or killed load is retried from the same files.
    """

    ui_color = "#fdebd0"

    def execute(self, context: Context) -> dict:
        from dango_provider.sources.runner import load_source

        ti = context["ti"]
        result = load_source(
            self.project, self.source, self.warehouse,
            owner=f"{ti.dag_id}.{ti.task_id} run {context['run_id']}",
            extracted=ti.xcom_pull(task_ids="extract") or {},
            data_interval=(context.get("data_interval_start"), context.get("data_interval_end")),
            run_id=context["run_id"],
        )
        return asdict(result)
