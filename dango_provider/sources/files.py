"""File sources (Dango's ``csv`` and ``local_files``): every matching file goes to one raw table.

DuckDB reads the files and writes one parquet file (its multi-threaded CSV reader and parquet writer),
which dlt imports into the load package as is: no row passes through Python, no Arrow table is held in
memory. Columns are renamed to dlt's names and ``_dlt_load_id`` is written by the same query, so dlt's
normalize step links the file instead of rewriting it. Each row carries ``_dango_file``, the file it
came from.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dango_provider.config.model import CsvOptions, FilesystemOptions, LocalFilesOptions, Source
from dango_provider.core.duckdb_config import OFFLINE, DuckDBConfig
from dango_provider.core.naming import quote_identifier, quote_literal
from dango_provider.core.paths import inside, outside_message, pattern_problem
from dango_provider.exceptions import SourceDataError

FILE_COLUMN = "_dango_file"
#: the longest CSV line (and so field) read: DuckDB's default is 2 MB; a text column may hold whole documents
MAX_LINE_BYTES = 32 * 1024 * 1024
#: a bounded buffer pool; row order is not kept (a table has none), which lets DuckDB write in parallel
_READER_CONFIG: DuckDBConfig = {**OFFLINE, "memory_limit": "256MB", "threads": 2, "preserve_insertion_order": False}
_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "latin-1": "latin-1"}
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


def column_namer(normalize: Callable[[str], str]) -> Callable[[str], str]:
    """dlt's normalization of a file's column names, with each non-ASCII character spelled as its code
    point first (``名前`` -> ``u540d_u524d``, ``café`` -> ``caf_u00e9``): dlt alone turns them all into
    ``x``, so distinct headers in other scripts would collide."""
    def name(column: str) -> str:
        spelled = "".join(c if ord(c) < 128 else f" u{ord(c):04x} " for c in column)
        return normalize(" ".join(spelled.split()) if spelled != column else column)
    return name


def list_files(source: Source, directory: Path, roots: tuple[Path, ...] = ()) -> FileSet:
    """The files of a source now. Each match, symlinks resolved, must lie in one of ``roots`` (the
    project directory and the allowed data roots; empty: not checked), else nothing is read."""
    key = "bucket_url" if isinstance(source.options, FilesystemOptions) and source.options.bucket_url else "directory"
    field = f"sources.{source.name}.{source.type}.{key}"
    pattern_field = f"sources.{source.name}.{source.type}.{'file_glob' if key == 'bucket_url' else 'file_pattern'}"
    problem = pattern_problem(pattern_of(source))
    if problem:
        raise SourceDataError(f"{pattern_field}: file pattern '{pattern_of(source)}' {problem}")
    if roots and not inside(directory, roots):
        raise SourceDataError(f"{field}: {outside_message('directory', str(directory), directory, roots)}")
    if not directory.is_dir():
        raise SourceDataError(f"{field}: directory '{directory}' does not exist (source '{source.name}')")
    found = glob.glob(str(directory / pattern_of(source)), recursive=True)
    files = sorted(Path(p) for p in found if Path(p).is_file())
    for path in files:
        if roots and not inside(path, roots):
            raise SourceDataError(
                f"{pattern_field}: {outside_message('file', str(path), path, roots)} (a symbolic link?); "
                "nothing from this load was read")
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
            f"max_line_size={MAX_LINE_BYTES}, buffer_size={2 * MAX_LINE_BYTES}, "
            f"encoding={quote_literal(options.encoding)}, filename='{FILE_COLUMN}')"
        )
    elif fmt == "jsonl":
        reader = f"read_json({paths}, format='newline_delimited', union_by_name=true, filename='{FILE_COLUMN}')"
    else:
        reader = f"read_parquet({paths}, union_by_name=true, filename='{FILE_COLUMN}')"
    return f"SELECT * REPLACE (replace({FILE_COLUMN}, {prefix}, '') AS {FILE_COLUMN}) FROM {reader}"


def copy_to_parquet(options: CsvOptions, files: list[Path], root: Path, out: Path, *, load_id: str,
                    rename: Callable[[str], str], key: Sequence[str] = ()) -> int:
    """Write every row of ``files`` to the parquet file ``out``; return the number of rows.

    Columns are renamed by ``rename`` (unless two would get the same name: dlt then reports the clash)
    and ``_dlt_load_id`` is set to ``load_id``. Bad data (also a row without a value in a ``key``
    column) raises SourceDataError naming file and line; ``out`` is then removed.
    """
    import duckdb

    for path in files:
        if path.stat().st_size == 0:
            raise SourceDataError(f"{path}: the file is empty (0 bytes); remove it or give it a header and rows")
    con = duckdb.connect(config=_READER_CONFIG)
    try:
        query = read_sql(options, files, root)
        try:
            names = [row[0] for row in con.execute(f"DESCRIBE {query}").fetchall()]
            renamed = [rename(name) for name in names]
            clash = _first_clash(names, renamed)
            if clash:
                first, second, common = clash
                raise SourceDataError(
                    f"{', '.join(str(f) for f in files)}: columns '{first}' and '{second}' both become '{common}' in "
                    "the warehouse (names are lower snake_case there); rename one of them in the file")
            missing = [k for k in key if rename(k) not in renamed]
            if missing:
                raise SourceDataError(f"primary key column(s) {', '.join(missing)} not found in "
                                      f"{', '.join(str(f) for f in files)} (columns: {', '.join(names)})")
            columns = ", ".join(f"{quote_identifier(a)} AS {quote_identifier(b)}" for a, b in zip(names, renamed))
            con.execute(
                f"COPY (SELECT {columns}, {quote_literal(load_id)} AS {quote_identifier(rename('_dlt_load_id'))} "
                f"FROM ({query})) TO {quote_literal(str(out))} (FORMAT parquet)"
            )
        except duckdb.Error as exc:
            out.unlink(missing_ok=True)
            raise _diagnose(options, files, exc) from exc
        file_column = quote_identifier(rename(FILE_COLUMN))
        no_key = " OR ".join(f"{quote_identifier(rename(k))} IS NULL" for k in key) or "false"
        counts = {file: (rows, without_key) for file, rows, without_key in con.execute(
            f"SELECT {file_column}, count(*), count(*) FILTER (WHERE {no_key}) "
            f"FROM read_parquet({quote_literal(str(out))}) GROUP BY ALL").fetchall()}
    finally:
        con.close()
    for path in files:
        label = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        rows, without_key = counts.get(label, (0, 0))
        problem = None
        if not rows:
            problem = f"{path}: the file has a header but no data rows"
        elif without_key:
            line = _first_line_without(path, options, key) if file_format(options, path) == "csv" else None
            problem = (f"{path}{f':{line}' if line else ''}: {without_key} row(s) without a value in the primary key "
                       f"({', '.join(key)}); nothing from this load was written")
        if problem:
            out.unlink(missing_ok=True)
            raise SourceDataError(problem)
    return sum(rows for rows, _ in counts.values())


@dataclass(frozen=True)
class Duplicates:
    """Rows of one load that share a primary key value with a later row (merge sources)."""

    dropped: int
    rule: str


def deduplicate(options: CsvOptions, files: list[Path], root: Path, out: Path, *, key: list[str],
                rename: Callable[[str], str], policy: str, load_id: str) -> Duplicates:
    """Leave one row per ``key`` value in the parquet file ``out`` of a merge load, and say how many were
    dropped and by which rule: the row of the file that sorts last (or with the latest
    ``timestamp_column``) wins, and within a file the row nearest its end. With ``policy`` ``fail``
    any duplicate raises SourceDataError naming the key values and their files; ``out`` is then removed."""
    import duckdb

    keys = [quote_identifier(rename(k)) for k in key]
    file_column = quote_identifier(rename(FILE_COLUMN))
    con = duckdb.connect(config=_READER_CONFIG)
    try:
        rows, distinct = con.execute(f"SELECT count(*), count(DISTINCT ({', '.join(keys)})) "
                                     f"FROM read_parquet({quote_literal(str(out))})").fetchone() or (0, 0)
        if rows == distinct:
            return Duplicates(0, "")
        if policy == "fail":
            samples = con.execute(
                f"SELECT concat_ws(', ', {', '.join(f'{k}::varchar' for k in keys)}), list(DISTINCT {file_column} "
                f"ORDER BY {file_column}), count(*) FROM read_parquet({quote_literal(str(out))}) GROUP BY ALL "
                f"HAVING count(*) > 1 ORDER BY 1 LIMIT 3").fetchall()
            out.unlink(missing_ok=True)
            shown = "; ".join(f"{', '.join(key)} = {value}: {count} rows in {', '.join(where)}"
                              for value, where, count in samples)
            raise SourceDataError(f"{rows - distinct} row(s) share a primary key value with another row of this load "
                                  f"({shown}); nothing from this load was written (on_duplicate_keys: fail; "
                                  "keep_last keeps the last row of each key instead)")
    finally:
        con.close()
    timestamp = options.timestamp_column
    order = [f"{quote_identifier(rename(timestamp))} {'ASC' if options.timestamp_sort == 'asc' else 'DESC'} NULLS LAST"
             ] if timestamp else []
    order += [f"{file_column} DESC", "_dango_row DESC"]
    rule = ((f"the row with the {'earliest' if options.timestamp_sort == 'asc' else 'latest'} {timestamp}, then " if
             timestamp else "") + "the row of the file that sorts last, and within a file the row nearest its end")
    # read again in file order (one thread, order kept) to number the rows; only loads with duplicates pay this
    ordered = duckdb.connect(config={**OFFLINE, "memory_limit": "256MB", "threads": 1,
                                     "preserve_insertion_order": True})
    kept = out.with_name(out.name + ".dedup")
    try:
        names = [row[0] for row in ordered.execute(f"DESCRIBE {read_sql(options, files, root)}").fetchall()]
        renamed = [rename(name) for name in names]
        columns = ", ".join(f"{quote_identifier(a)} AS {quote_identifier(b)}" for a, b in zip(names, renamed))
        ordered.execute(
            f"COPY (SELECT * EXCLUDE (_dango_row) FROM (SELECT {columns}, "
            f"{quote_literal(load_id)} AS {quote_identifier(rename('_dlt_load_id'))}, row_number() OVER () AS _dango_row "
            f"FROM ({read_sql(options, files, root)})) QUALIFY row_number() OVER (PARTITION BY {', '.join(keys)} "
            f"ORDER BY {', '.join(order)}) = 1) TO {quote_literal(str(kept))} (FORMAT parquet)")
    finally:
        ordered.close()
    os.replace(kept, out)
    return Duplicates(rows - distinct, rule)


@dataclass(frozen=True)
class TypeConflict:
    """A column that earlier loads stored as ``stored`` and that holds a value of another type now."""

    column: str
    stored: str
    file: str
    sample: str
    variant: str


#: DuckDB types a stored (dlt) type is checked against; text holds anything
_CHECKED_TYPES = {"bigint": "BIGINT", "double": "DOUBLE", "decimal": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE",
                  "timestamp with time zone": "TIMESTAMPTZ", "time": "TIME"}


def type_conflicts(options: CsvOptions, files: list[Path], root: Path, stored: dict[str, str],
                   rename: Callable[[str], str]) -> list[TypeConflict]:
    """Columns of ``files`` holding a value that the type stored for them (``stored``: dlt-normalized
    name -> DuckDB type of the raw table so far) cannot hold, each with a file and a sample value. Such a
    value goes to the variant column ``<column>__v_text`` (dlt's naming) instead of failing the load."""
    import duckdb

    query = read_sql(options, files, root)
    con = duckdb.connect(config=_READER_CONFIG)
    try:
        found = []
        try:
            described = con.execute(f"DESCRIBE {query}").fetchall()
        except duckdb.Error as exc:
            raise _diagnose(options, files, exc) from exc
        for name, data_type, *_ in described:
            kept = _CHECKED_TYPES.get(stored.get(rename(name), ""))
            if name == FILE_COLUMN or kept is None or data_type.upper().startswith(kept):
                continue
            column = quote_identifier(name)
            row = con.execute(
                f"SELECT {quote_identifier(FILE_COLUMN)}, CAST({column} AS VARCHAR) FROM ({query}) "
                f"WHERE {column} IS NOT NULL AND TRY_CAST({column} AS {kept}) IS NULL LIMIT 1").fetchone()
            if row:
                found.append(TypeConflict(name, stored[rename(name)], row[0], row[1][:60],
                                          rename(f"{name}__v_text")))
    finally:
        con.close()
    return found


def describe(options: CsvOptions, files: list[Path], root: Path) -> dict[str, str]:
    """Column name -> DuckDB type of ``files`` as read (the source's own schema, before dlt)."""
    import duckdb

    con = duckdb.connect(config=OFFLINE)
    try:
        rows = con.execute(f"DESCRIBE {read_sql(options, files, root)}").fetchall()
    finally:
        con.close()
    return {name: data_type for name, data_type, *_ in rows if name != FILE_COLUMN}


def _first_clash(names: list[str], renamed: list[str]) -> tuple[str, str, str] | None:
    seen: dict[str, str] = {}
    for name, new in zip(names, renamed):
        if new in seen:
            return seen[new], name, new
        seen[new] = name
    return None


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


def _first_line_without(path: Path, options: CsvOptions, key: Sequence[str]) -> int | None:
    """The line of the first data row of a csv file with an empty ``key`` field (None: not found)."""
    delimiter = options.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    with path.open(newline="", encoding=_ENCODINGS[options.encoding]) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, [])
        positions = [header.index(k) for k in key if k in header]
        for row in reader:
            if any(p >= len(row) or row[p] == "" for p in positions):
                return reader.line_num
    return None


def _first_bad_line(path: Path, options: CsvOptions) -> str | None:
    csv.field_size_limit(MAX_LINE_BYTES)  # Python's default (128 KiB) would call a valid big field malformed
    encoding = _ENCODINGS[options.encoding]
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
