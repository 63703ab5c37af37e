"""The dlt pipeline of a source: its name, working directory, destination and resource."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from dango_provider.config.loader import Project
from dango_provider.config.model import Source, dango_write_disposition
from dango_provider.core.naming import Naming
from dango_provider.offline import disable_telemetry
from dango_provider.sources import files

log = logging.getLogger(__name__)

disable_telemetry()  # no usage telemetry from dlt (read when dlt is configured)

# dlt would look up every config value as an Airflow Variable (hundreds of API calls per task);
# the provider passes credentials to dlt explicitly instead
os.environ.setdefault("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")
# raw tables carry dlt's load id also for Arrow data (staging orders by it); no per-row random _dlt_id:
# generating it in Python costs more than the rest of the extract and nothing reads it
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
# replace loads go through a staging dataset: the old rows stay queryable until the new ones commit
os.environ.setdefault("DESTINATION__REPLACE_STRATEGY", "insert-from-staging")


#: dlt data types as DuckDB types (what the staging models cast to, what drift checks compare)
DUCKDB_TYPES = {"text": "varchar", "bigint": "bigint", "double": "double", "bool": "boolean",
                "timestamp": "timestamp with time zone", "date": "date", "time": "time", "decimal": "decimal",
                "json": "json", "binary": "blob", "wei": "decimal"}


def pipelines_dir(project: Project) -> Path:
    return Naming.state_dir(project.root) / "pipelines"


def source_state_dir(project: Project, source: Source) -> Path:
    return Naming.source_state_dir(project.root, source.name)


def pipeline_for(project: Project, source: Source, destination=None, work_dir: Path | None = None):
    """The source's dlt pipeline: in the project's shared pipelines directory (where loads run and the
    committed state and schemas are kept), or in ``work_dir`` (an extract on a worker's own disk)."""
    import dlt

    return dlt.pipeline(
        pipeline_name=Naming.pipeline_name(source.name),
        pipelines_dir=str(work_dir or pipelines_dir(project)),
        destination=destination,
        dataset_name=Naming.raw_schema(source.name),
        progress="log",
    )


def effective_write_disposition(project: Project, source: Source) -> str:
    explicit = source.write_disposition or project.config.defaults.write_disposition or dango_write_disposition(
        project.config.defaults, source, dango_project=project.is_dango_layout)
    if explicit:
        return explicit
    if source.type in ("rest_api", "stripe", "github", "hubspot"):
        return "merge"  # API records are updated in place
    if source.type in ("sql_database", "postgres", "mysql"):
        return "per table: merge with a primary key, else append with a cursor, else replace"
    if not source.is_file_source:
        return "merge" if source.primary_key else "per resource (its own hints)"
    strategy = source.options.deduplication_strategy
    if files.primary_key(source) and strategy in ("latest_only", "scd_type2"):
        return "merge"
    return "append"


def on_duplicate_keys(project: Project, source: Source) -> str:
    return source.on_duplicate_keys or project.config.defaults.on_duplicate_keys


def file_resource(project: Project, source: Source, paths: list[Path], work_dir: Path, *, all_new: bool = False,
                  variants: dict[str, str] | None = None):
    """A dlt resource over ``paths``: one parquet file written by DuckDB in ``work_dir`` and imported
    into the load package (``work_dir`` should be on the pipeline's file system: dlt hard-links the file).

    ``all_new``: none of ``paths`` was loaded before, so an ``append`` source appends plainly instead
    of going through delete-insert on the file column. ``variants``: source column -> the column its
    values go to instead (a type the raw table's column cannot hold).
    """
    import dlt

    disposition = effective_write_disposition(project, source)
    key = files.primary_key(source)
    # key columns stay nullable in dlt's schema: the parquet file DuckDB writes has nullable columns only,
    # and a mismatch would make dlt rewrite the whole file; copy_to_parquet rejects rows without a key
    columns: dict = {files.FILE_COLUMN: {"data_type": "text", "nullable": True}}
    columns.update({k: {"nullable": True} for k in key})
    hints: dict = {}
    if disposition == "merge":
        hints = {"write_disposition": {"disposition": "merge", "strategy": "delete-insert"}, "primary_key": key}
        sort_column = source.options.timestamp_column or files.FILE_COLUMN
        order = "asc" if (source.options.timestamp_column and source.options.timestamp_sort == "asc") else "desc"
        columns.setdefault(sort_column, {})["dedup_sort"] = order
    elif disposition == "append" and all_new:
        hints = {"write_disposition": "append"}
    elif disposition == "append":
        # a changed file replaces the rows it loaded before: delete-insert keyed on the file
        hints = {"write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
                 "merge_key": files.FILE_COLUMN}
    else:
        hints = {"write_disposition": "replace"}

    table = files.table_name(source)

    def parquet_file() -> Iterator:
        import pyarrow.parquet as pq

        load_id = dlt.current.load_package_state()["load_id"]
        column = files.column_namer(dlt.current.source_schema().naming.normalize_identifier)

        def rename(name: str) -> str:
            return (variants or {}).get(name) or column(name)

        out = work_dir / f"{table}.{load_id}.parquet"
        rows = files.copy_to_parquet(source.options, paths, project.root, out, load_id=load_id,
                                     rename=rename, key=key)
        if disposition == "merge":
            duplicates = files.deduplicate(source.options, paths, project.root, out, key=key,
                                           rename=rename, load_id=load_id,
                                           policy=on_duplicate_keys(project, source))
            if duplicates.dropped:
                rows -= duplicates.dropped
                log.warning("source '%s': %d row(s) dropped: their primary key (%s) appears again later in this "
                            "load; kept %s (on_duplicate_keys: keep_last; set fail to refuse such loads)",
                            source.name, duplicates.dropped, ", ".join(key), duplicates.rule)
            # one row per key now: dlt's merge skips its own deduplication (a window over every staged row)
            dlt.current.resource().apply_hints(additional_table_hints={"x-stage-data-deduplicated": True})
        # the file's own schema (no rows) gives dlt the column types
        yield dlt.mark.with_file_import(str(out), "parquet", rows, hints=pq.read_schema(out).empty_table())

    return dlt.resource(parquet_file, name=table, columns=columns, **hints)
