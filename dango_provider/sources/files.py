"""File sources (Dango's ``csv`` and ``local_files``): every matching file goes to one raw table.

Files are read by DuckDB into Arrow record batches and handed to dlt as Arrow, so dlt writes parquet
and never builds Python dicts row by row. Each row carries ``_dango_file``, the file it came from.
"""

from __future__ import annotations

import csv
import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from dango_provider.config.model import CsvOptions, FilesystemOptions, LocalFilesOptions, Source
from dango_provider.core.duckdb_config import OFFLINE
from dango_provider.core.naming import quote_literal
from dango_provider.exceptions import SourceDataError

FILE_COLUMN = "_dango_file"
BATCH_ROWS = 256_000
_FORMATS_BY_SUFFIX = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
                      ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class FileSet:
    """The files of one source, as found on disk now."""

    source: str
    table: str
    directory: Path
    files: list[Path]


def table_name(source: Source) -> str:
    return source.options.table or source.name


def primary_key(source: Source) -> list[str]:
    key = source.primary_key or source.options.primary_key
    if key is None:
        return []
    return [key] if isinstance(key, str) else list(key)


def directory_of(source: Source) -> str:
    """The directory of a file source as written in sources.yml (relative to the project)."""
    options = source.options
    return options.local_directory if isinstance(options, FilesystemOptions) else options.directory


def pattern_of(source: Source) -> str:
    options = source.options
    return options.pattern if isinstance(options, FilesystemOptions) else options.file_pattern


def list_files(source: Source, directory: Path) -> FileSet:
    key = "bucket_url" if isinstance(source.options, FilesystemOptions) and source.options.bucket_url else "directory"
    field = f"sources.{source.name}.{source.type}.{key}"
    if not directory.is_dir():
        raise SourceDataError(f"{field}: directory '{directory}' does not exist (source '{source.name}')")
    found = glob.glob(str(directory / pattern_of(source)), recursive=True)
    files = sorted(Path(p) for p in found if Path(p).is_file())
    return FileSet(source=source.name, table=table_name(source), directory=directory, files=files)


def file_format(options: CsvOptions, path: Path) -> str:
    if isinstance(options, LocalFilesOptions) and options.format:
        return options.format
    if not isinstance(options, LocalFilesOptions):
        return "csv"
    fmt = _FORMATS_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise SourceDataError(
            f"{path}: cannot tell the file format from the extension '{path.suffix}'; "
            "set local_files.format to csv, jsonl or parquet"
        )
    return fmt


def read_sql(options: CsvOptions, files: list[Path], root: Path) -> str:
    """The DuckDB query that reads ``files`` (all of one format) with the file column added."""
    fmt = file_format(options, files[0])
    paths = "[" + ", ".join(quote_literal(str(f)) for f in files) + "]"
    prefix = quote_literal(str(root) + "/")
    if fmt == "csv":
        delimiter = options.delimiter or ("\t" if files[0].suffix.lower() == ".tsv" else ",")
        reader = (
            f"read_csv({paths}, header={str(options.header).lower()}, delim={quote_literal(delimiter)}, "
            f"quote='\"', escape='\"', skip=0, union_by_name=true, strict_mode=true, null_padding=false, "
            f"encoding={quote_literal(options.encoding)}, filename='{FILE_COLUMN}')"
        )
    elif fmt == "jsonl":
        reader = f"read_json({paths}, format='newline_delimited', union_by_name=true, filename='{FILE_COLUMN}')"
    else:
        reader = f"read_parquet({paths}, union_by_name=true, filename='{FILE_COLUMN}')"
    return f"SELECT * REPLACE (replace({FILE_COLUMN}, {prefix}, '') AS {FILE_COLUMN}) FROM {reader}"


def read_batches(options: CsvOptions, files: list[Path], root: Path) -> Iterator:
    """Arrow record batches of all ``files``; raise SourceDataError naming file and line on bad data."""
    import duckdb

    for path in files:
        if path.stat().st_size == 0:
            raise SourceDataError(f"{path}: the file is empty (0 bytes); remove it or give it a header and rows")
    con = duckdb.connect(config={**OFFLINE, "memory_limit": "256MB", "threads": 2})
    try:
        try:
            reader = con.execute(read_sql(options, files, root)).fetch_record_batch(BATCH_ROWS)
            files_with_rows: set[str] = set()
            for batch in reader:
                files_with_rows |= _distinct(batch)
                yield batch
        except duckdb.Error as exc:
            raise _diagnose(options, files, exc) from exc
        for path in files:
            label = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
            if label not in files_with_rows:
                raise SourceDataError(f"{path}: the file has a header but no data rows")
    finally:
        con.close()


def describe(options: CsvOptions, files: list[Path], root: Path) -> dict[str, str]:
    """Column name -> DuckDB type of ``files`` as read (the source's own schema, before dlt)."""
    import duckdb

    con = duckdb.connect(config=OFFLINE)
    try:
        rows = con.execute(f"DESCRIBE {read_sql(options, files, root)}").fetchall()
    finally:
        con.close()
    return {name: data_type for name, data_type, *_ in rows if name != FILE_COLUMN}


def _distinct(batch) -> set[str]:
    import pyarrow.compute as pc

    return set(pc.unique(batch.column(FILE_COLUMN)).to_pylist())


def _diagnose(options: CsvOptions, files: list[Path], exc: Exception) -> SourceDataError:
    """Find the file and line behind a DuckDB read error (run only when reading failed)."""
    for path in files:
        if file_format(options, path) != "csv":
            continue
        problem = _first_bad_line(path, options)
        if problem:
            return SourceDataError(f"{path}:{problem}")
    first_line = str(exc).splitlines()[0]
    return SourceDataError(f"cannot read {', '.join(str(f) for f in files)}: {first_line}")


def _first_bad_line(path: Path, options: CsvOptions) -> str | None:
    encoding = {"utf-8": "utf-8", "utf-16": "utf-16", "latin-1": "latin-1"}[options.encoding]
    delimiter = options.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    try:
        with path.open(newline="", encoding=encoding) as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            expected = None
            for row in reader:
                if expected is None:
                    expected = len(row)
                    continue
                if len(row) != expected and row:
                    return (
                        f"{reader.line_num}: ragged row: expected {expected} fields like the header, "
                        f"found {len(row)}; nothing from this load was written"
                    )
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return f"{line}: not {options.encoding} text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); set csv.encoding"
    except csv.Error as exc:
        return f"{reader.line_num}: malformed CSV: {exc}"
    return None
