"""Ingest operators: extract + normalize outside the writer pool, load inside it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from airflow.sdk.exceptions import AirflowSkipException

from dango_provider.operators.failure import explain_failures
from dango_provider.operators.project import SourceOperator
from dango_provider.settings import load_settings

if TYPE_CHECKING:
    from airflow.sdk import Context

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

    @explain_failures
    def execute(self, context: Context) -> dict:
        from dango_provider.sources.interval import Interval
        from dango_provider.sources.runner import NothingToLoad, extract_source

        conf = (context.get("dag_run") and context["dag_run"].conf) or {}
        interval = Interval(context.get("data_interval_start"), context.get("data_interval_end"),
                            full_refresh=bool(conf.get("full_refresh")))
        if conf.get("requested_by"):
            self.log.info("run requested by %s from the Dango overview%s", conf["requested_by"],
                          " (full refresh)" if interval.full_refresh else "")
        work_dir = load_settings().work_dir
        if work_dir:
            self.log.info("extracting in this worker's work_dir %s; the load takes the data from the run's stash "
                          "in the project", work_dir)
        try:
            result = extract_source(self.project, self.source, self.warehouse, full_refresh=interval.full_refresh,
                                    interval=interval, run_id=context["run_id"],
                                    work_dir=Path(work_dir).expanduser() if work_dir else None)
        except NothingToLoad as exc:
            from dango_provider.operators.skips import skip_downstream_now

            skipped = skip_downstream_now(self, context)
            self.log.info("nothing to load: %s skipped with this task", ", ".join(skipped) or "no task")
            raise AirflowSkipException(str(exc)) from exc
        return asdict(result)

class DltLoadOperator(SourceOperator):
    """Load the source's pending dlt packages into the warehouse, under the write lock.

    Runs in the writer pool. Records load history in ``dango_meta`` and commits file fingerprints
    only after the load succeeded, so a failed or killed load is retried from the same files.
    """

    ui_color = "#fdebd0"

    @explain_failures
    def execute(self, context: Context) -> dict:
        from dango_provider.sources.runner import load_source

        ti = context["ti"]
        result = load_source(
            self.project, self.source, self.warehouse,
            owner=self.lock_owner(context),
            extracted=ti.xcom_pull(task_ids="extract") or {},
            data_interval=(context.get("data_interval_start"), context.get("data_interval_end")),
            run_id=context["run_id"],
        )
        return asdict(result)
