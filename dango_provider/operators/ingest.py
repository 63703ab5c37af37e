"""Ingest operators: extract + normalize outside the writer pool, load inside it."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Sequence

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from dango_provider.exceptions import IngestError, SourceDataError

if TYPE_CHECKING:
    from airflow.sdk import Context


class _SourceOperator(BaseOperator):
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

    def fingerprints(self):
        from dango_provider.core.fingerprints import FingerprintStore
        from dango_provider.sources.pipeline import source_state_dir

        return FingerprintStore(source_state_dir(self.project, self.source))


class DltExtractOperator(_SourceOperator):
    """Read the source's new and changed files and normalize them into a dlt load package.

    Holds no warehouse lock and needs no pool slot: nothing is written to the warehouse here.
    Skips (and so skips the load) when no file changed since the last committed load.

    :param project_dir: the dango project directory (templated)
    :param source_name: the source in sources.yml (templated)
    """

    ui_color = "#e8f4ea"

    def execute(self, context: Context) -> dict:
        from dango_provider.core.fingerprints import fingerprint
        from dango_provider.sources import files
        from dango_provider.sources.pipeline import (
            discard_pending, effective_write_disposition, file_resource, pipeline_for,
        )

        project, source = self.project, self.source
        store = self.fingerprints()
        conf = (context.get("dag_run") and context["dag_run"].conf) or {}
        if conf.get("full_refresh"):
            self.log.info("full_refresh requested: every file is read again")
            store.reset()

        file_set = files.list_files(source, project.path(source.options.directory))
        policy = source.empty_sync_policy or project.config.defaults.empty_sync_policy
        if not file_set.files:
            message = (f"source '{source.name}': no file matches '{source.options.file_pattern}' in "
                       f"'{file_set.directory}'")
            if policy == "allow":
                raise AirflowSkipException(message + " (empty_sync_policy: allow)")
            raise SourceDataError(message + "; earlier loads are kept (set empty_sync_policy: allow to skip instead)")

        current = {str(p.relative_to(project.root)): fingerprint(p) for p in file_set.files}
        committed = store.committed()
        changed = [p for p in file_set.files if committed.get(str(p.relative_to(project.root))) != current[str(p.relative_to(project.root))]]
        disposition = effective_write_disposition(project, source)
        if disposition == "replace" and (changed or set(committed) != set(current)):
            changed = list(file_set.files)
        if not changed:
            raise AirflowSkipException(f"source '{source.name}': {len(current)} file(s), none new or changed")

        self.log.info("source '%s': reading %d new or changed file(s) of %d (%s)", source.name, len(changed),
                      len(current), disposition)
        # normalize needs the destination's capabilities; it does not connect to it
        pipeline = pipeline_for(project, source, destination=self.warehouse.dlt_destination())
        discard_pending(pipeline)
        started = time.monotonic()
        try:
            pipeline.extract(file_resource(project, source, changed), loader_file_format="parquet")
            info = pipeline.normalize()
        except Exception as exc:
            discard_pending(pipeline)
            cause = _root_cause(exc)
            if isinstance(cause, SourceDataError):
                raise SourceDataError(f"source '{source.name}': {cause}") from exc
            raise IngestError(f"source '{source.name}': extract/normalize failed: {cause}") from exc
        row_counts = {t: n for t, n in info.row_counts.items() if not t.startswith("_dlt")}
        for table, rows in row_counts.items():
            self.log.info("source '%s': table %s: %d rows normalized", source.name, table, rows)
        store.write_pending(current)
        return {
            "source": source.name,
            "files": [str(p.relative_to(project.root)) for p in changed],
            "row_counts": row_counts,
            "seconds": round(time.monotonic() - started, 3),
        }


class DltLoadOperator(_SourceOperator):
    """Load the source's pending dlt packages into the warehouse, under the write lock.

    Runs in the writer pool. Records load history in ``dango_meta`` and commits file fingerprints
    only after the load succeeded, so a failed or killed load is retried from the same files.
    """

    ui_color = "#fdebd0"

    def execute(self, context: Context) -> dict:
        from dango_provider.core.load_history import LoadRecord, record_loads
        from dango_provider.sources.pipeline import pipeline_for

        project, source = self.project, self.source
        extracted = context["ti"].xcom_pull(task_ids="extract") or {}
        owner = f"{context['ti'].dag_id}.{context['ti'].task_id} run {context['run_id']}"
        pipeline = pipeline_for(project, source, destination=self.warehouse.dlt_destination())
        if not pipeline.list_normalized_load_packages():
            raise IngestError(
                f"source '{source.name}': no normalized load package to load; run the extract task again"
            )
        started_at = datetime.now(timezone.utc)
        with self.warehouse.write_lock(owner) as waited:
            self.log.info("warehouse lock acquired after %.2fs", waited)
            try:
                load_info = pipeline.load()
            except Exception as exc:
                raise IngestError(f"source '{source.name}': load into the warehouse failed: {_root_cause(exc)}") from exc
            load_ids = list(load_info.loads_ids)
            finished_at = datetime.now(timezone.utc)
            row_counts = extracted.get("row_counts", {})
            records = [
                LoadRecord(source=source.name, table_name=table, rows=rows, load_id=",".join(load_ids),
                           files=len(extracted.get("files", [])), started_at=started_at, finished_at=finished_at,
                           data_interval_start=context.get("data_interval_start"),
                           data_interval_end=context.get("data_interval_end"), run_id=context["run_id"])
                for table, rows in row_counts.items()
            ]
            connection = self.warehouse.connect()
            try:
                record_loads(connection, records)
            finally:
                connection.close()
        self.fingerprints().commit_pending()
        for table, rows in row_counts.items():
            self.log.info("source '%s': table %s: %d rows loaded", source.name, table, rows)
        return {"source": source.name, "row_counts": row_counts, "load_ids": load_ids,
                "started_at": started_at.isoformat(), "finished_at": finished_at.isoformat()}


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while True:
        nxt = seen.__cause__ or seen.__context__
        if nxt is None or nxt is seen:
            return seen
        if isinstance(seen, SourceDataError):
            return seen
        seen = nxt
