"""``filesystem`` sources at an fsspec URL (``s3://``, ``gs://``, ``az://``, ``sftp://``, ``memory://`` ...):
dlt's filesystem source lists the files and its csv / jsonl / parquet readers read them.

Local paths are file sources (``sources/files.py``); this module handles only URLs with a protocol.
The fsspec driver of the protocol (``s3fs``, ``gcsfs``, ``adlfs`` ...) must be installed in the Airflow
environment; it reads its credentials from the environment of the workers as usual (for example
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` for s3fs), never from sources.yml.

Files are selected by their modification date: a bounded run reads the files modified in
``[data_interval_start, data_interval_end)`` and leaves the stored cursor alone; an unbounded run reads
the files modified since the stored cursor (the first one since the source's ``start_date``), so a
file is read again only when it changes; a full refresh reads every file modified since the start
date and replaces the table. Each row carries ``_dango_file``, the URL of its file.

Write dispositions: ``merge`` upserts on the primary key (within one load the file whose URL sorts last
wins, or the latest ``timestamp_column`` value); ``append`` adds the rows of new files, and a changed
file replaces the rows it loaded before; ``replace`` reads every file on every run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from dango_provider.config.loader import Project
from dango_provider.config.model import FilesystemOptions, Source
from dango_provider.core.times import as_utc
from dango_provider.exceptions import IngestError, SourceDataError
from dango_provider.sources import files
from dango_provider.sources.interval import Interval

log = logging.getLogger(__name__)

CURSOR = "modification_date"
CHUNK_ROWS = 50_000


def build(project: Project, source: Source, interval: Interval):
    """A dlt resource: the files of the source's URL (selected by modification date), read into one table."""
    import dlt
    from dlt.sources.filesystem import filesystem as list_files

    options: FilesystemOptions = source.options
    url = options.url
    if url is None:  # the runner sends local paths to the file machinery
        raise IngestError(f"filesystem.bucket_url '{options.bucket_url}' is not an fsspec URL")
    fs = filesystem_for(url)
    disposition = write_disposition(project, source)
    incremental = None if disposition == "replace" else _incremental(project, source, interval)
    listing = list_files(bucket_url=url, credentials=fs, file_glob=options.pattern, incremental=incremental)
    table = files.table_name(source)
    key = files.primary_key(source)
    columns: dict = {files.FILE_COLUMN: {"data_type": "text", "nullable": False}}
    if disposition == "merge":
        hints: dict = {"write_disposition": {"disposition": "merge", "strategy": "delete-insert"}, "primary_key": key}
        sort_column = options.timestamp_column or files.FILE_COLUMN
        order = "asc" if (options.timestamp_column and options.timestamp_sort == "asc") else "desc"
        columns.setdefault(sort_column, {})["dedup_sort"] = order
    elif disposition == "append":
        # a changed file replaces the rows it loaded before: delete-insert keyed on the file
        hints = {"write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
                 "merge_key": files.FILE_COLUMN}
    else:
        hints = {"write_disposition": "replace"}
    log.info("source '%s': files matching '%s' at %s into table %s (%s%s)", source.name, options.pattern, url,
             table, disposition, "" if incremental else ", every file")

    def read(items) -> Iterator:
        for item in items:
            yield from read_file(options, item)

    reader = dlt.transformer(read, name=table, columns=columns, **hints)
    return listing | reader


def write_disposition(project: Project, source: Source) -> str:
    """As for local file sources: explicit, else merge with a primary key (latest_only / scd_type2), else append."""
    explicit = source.write_disposition or project.config.defaults.write_disposition
    if explicit == "merge" and not files.primary_key(source):
        raise IngestError("write_disposition is merge but no primary_key is set; set primary_key or use append")
    if explicit:
        return explicit
    if files.primary_key(source) and source.options.deduplication_strategy in ("latest_only", "scd_type2"):
        return "merge"
    return "append"


def filesystem_for(url: str):
    """The fsspec filesystem of ``url``; fails naming the package to install when its driver is missing."""
    import fsspec
    from fsspec.registry import known_implementations, registry

    protocol = url.split("://", 1)[0].lower()
    if protocol not in known_implementations and protocol not in registry:
        raise IngestError(
            f"filesystem.bucket_url '{url}' has the protocol '{protocol}', which no installed fsspec driver provides; "
            "known protocols: " + ", ".join(sorted(set(known_implementations) | set(registry)))
        )
    failure = None
    try:
        return fsspec.filesystem(protocol)
    except ImportError as exc:
        package = (exc.name or known_implementations.get(protocol, {}).get("class", protocol)).split(".")[0]
        failure = IngestError(
            f"filesystem.bucket_url '{url}' needs the fsspec driver for '{protocol}': install the Python package "
            f"'{package}' into the Airflow environment"
        )
    except Exception as exc:
        failure = IngestError(f"cannot open filesystem.bucket_url '{url}': {type(exc).__name__}: {exc}")
    raise failure


def read_file(options: FilesystemOptions, item) -> Iterator:
    """The rows of one listed file (dlt's readers), each with the file's URL in ``_dango_file``."""
    import pyarrow as pa
    from dlt.sources.filesystem.readers import (
        _read_csv_duckdb,
        _read_jsonl,
        _read_parquet,
    )

    file_url = item["file_url"]
    fmt = files.file_format(options, Path(PurePosixPath(item["file_name"]).name))
    if item.get("size_in_bytes") == 0:
        raise SourceDataError(f"{file_url}: the file is empty (0 bytes); remove it or give it a header and rows")
    if fmt == "csv":
        kwargs: dict[str, str | bool] = {"header": options.header, "encoding": options.encoding}
        if options.delimiter:
            kwargs["sep"] = options.delimiter
        batches = _read_csv_duckdb([item], chunk_size=CHUNK_ROWS, use_pyarrow=True, **kwargs)
    elif fmt == "jsonl":
        batches = _read_jsonl([item], chunksize=CHUNK_ROWS)
    else:
        batches = _read_parquet([item], chunksize=CHUNK_ROWS, use_pyarrow=True)
    rows = 0
    failure = None
    try:
        for batch in batches:
            if isinstance(batch, (pa.Table, pa.RecordBatch)):
                rows += batch.num_rows
                yield batch.append_column(files.FILE_COLUMN, pa.array([file_url] * batch.num_rows, pa.string()))
            else:
                rows += len(batch)
                yield [{**row, files.FILE_COLUMN: file_url} for row in batch]
    except SourceDataError:
        raise
    except Exception as exc:
        text = " ".join(line.strip() for line in str(exc).strip().splitlines()[:3] if line.strip())
        failure = SourceDataError(f"{file_url}: cannot read it as {fmt}: {type(exc).__name__}: {text}")
    if failure is not None:
        raise failure
    if rows == 0:
        raise SourceDataError(f"{file_url}: the file has no data rows")


def _incremental(project: Project, source: Source, interval: Interval):
    import dlt

    start = as_utc(source.start_date or project.config.defaults.start_date)
    end = None
    if interval.full_refresh:
        end = datetime.now(UTC)  # a mock cursor: the stored one stays where it was
    elif interval.bounded:
        start, end = interval.bounds_utc
    return dlt.sources.incremental(CURSOR, initial_value=start, end_value=end, allow_external_schedulers=False)
