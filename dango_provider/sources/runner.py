"""Extract and load one source, as plain functions (the operators are thin wrappers around them).

``extract_source`` reads new and changed files and leaves a normalized dlt package; it writes
nothing to the warehouse. ``load_source`` loads pending packages under the warehouse write lock,
records load history and only then commits the file fingerprints.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dango_provider.config.loader import Project
from dango_provider.config.model import Source
from dango_provider.core.fingerprints import FingerprintStore, identify, loaded_digests
from dango_provider.core.load_history import LoadRecord, record_loads
from dango_provider.core.naming import Naming, quote_identifier
from dango_provider.core.warehouse_identity import mismatch, replaced_since_last_load, warehouse_id, write_record
from dango_provider.exceptions import DangoError, IngestError, MissingCredentialsError, SourceDataError
from dango_provider.sources import files
from dango_provider.sources.interval import Interval
from dango_provider.sources.pipeline import (
    DUCKDB_TYPES,
    effective_write_disposition,
    file_resource,
    pipeline_for,
    pipelines_dir,
    source_state_dir,
)
from dango_provider.sources.run_stash import (
    RunStash,
    discard_unclaimed,
    normalized_packages,
    pending_runs,
    read_state,
    restore_state,
    source_lock,
    sync_working_dir,
)

log = logging.getLogger(__name__)

#: the directory (beside the pipeline's working directory) where an extract writes the parquet file dlt imports
_EXTRACT_DIR_PREFIX = "extract-"


class NothingToLoad(Exception):
    """No file is new or changed (or, with empty_sync_policy allow, none exists): skip the load."""


@dataclass
class ExtractResult:
    source: str
    files: list[str]
    row_counts: dict[str, int]
    seconds: float
    #: table -> column -> DuckDB type of the data read in this run (dlt-normalized names)
    source_schema: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the files are appended as they are (none of them was loaded before, as far as the state knows)
    plain_append: bool = False
    #: everything was read again (full refresh, or a warehouse that lost what the state says it holds)
    full_read: bool = False


@dataclass
class LoadResult:
    source: str
    row_counts: dict[str, int]
    load_ids: list[str]
    started_at: str
    finished_at: str
    lock_wait_seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def fingerprints(project: Project, source: Source) -> FingerprintStore:
    return FingerprintStore(source_state_dir(project, source))


def extract_source(project: Project, source: Source, warehouse, *, full_refresh: bool = False,
                   interval: Interval | None = None, run_id: str | None = None,
                   work_dir: Path | None = None) -> ExtractResult:
    """Extract and normalize one run's data; nothing is written to the warehouse.

    File sources read their new and changed files; other sources read ``interval`` (see ``Interval``).
    What the extract produced is parked in the run's stash (see ``run_stash``) for ``load_source``
    of the same ``run_id``, wherever that runs; overlapping runs of the source (backfills) never mix
    their data. ``work_dir``: where dlt works (a worker's own disk); by default the shared pipelines
    directory.
    """
    state_dir = source_state_dir(project, source)
    with source_lock(state_dir, owner=f"extract of source '{source.name}', run {run_id or 'manual'}") as waited:
        if waited > 1:
            log.info("waited %.1fs for another run of source '%s' to finish its extract or load", waited, source.name)
        # normalize needs the destination's capabilities; it does not connect to it
        if work_dir is not None:
            sync_working_dir(pipelines_dir(project) / Naming.pipeline_name(source.name),
                             work_dir / Naming.pipeline_name(source.name))
        pipeline = pipeline_for(project, source, destination=warehouse.dlt_destination(), work_dir=work_dir)
        working_dir = Path(pipeline.working_dir)
        discard_unclaimed(working_dir, state_dir)
        existing = {p.name for p in normalized_packages(working_dir)}
        state_before = read_state(working_dir)
        full_refresh = full_refresh or bool(interval and interval.full_refresh)
        replaced = None if full_refresh else replaced_since_last_load(state_dir, warehouse.file)
        if replaced and not source.is_file_source:
            raise IngestError(
                f"source '{source.name}': {replaced}; its stored cursor would skip the rows loaded before, so nothing "
                f"was read. Run the source once with full_refresh (airflow dags trigger "
                f"{Naming.ingest_dag_id(source.name)} --conf '{{\"full_refresh\": true}}')")
        if replaced:
            log.warning("source '%s': %s; every file is read again and loaded", source.name, replaced)
            full_refresh = True
        try:
            if source.is_file_source:
                result = _extract_files(project, source, pipeline, full_refresh=full_refresh)
            else:
                interval = interval or Interval()
                if full_refresh and not interval.full_refresh:
                    interval = Interval(interval.start, interval.end, full_refresh=True)
                lookback = source.lookback_days
                lookback = project.config.defaults.lookback_days if lookback is None else lookback
                widened = interval.looking_back(lookback)
                if widened != interval:
                    log.info("source '%s': lookback_days %d: the days before the data interval are read again",
                             source.name, lookback)
                interval = widened
                result = _extract_dlt_source(project, source, pipeline, interval)
            result.full_read = full_refresh
        except BaseException:
            discard_unclaimed(working_dir, state_dir)
            restore_state(working_dir, state_before)
            raise
        RunStash(state_dir, run_id).park(working_dir, state_before, fingerprints(project, source).pending_path,
                                         existing)
    return result


def _extract_files(project: Project, source: Source, pipeline, *, full_refresh: bool) -> ExtractResult:
    store = fingerprints(project, source)
    file_set = files.list_files(source, project.path(files.directory_of(source)), project.roots)
    policy = source.empty_sync_policy or project.config.defaults.empty_sync_policy
    if not file_set.files:
        message = f"source '{source.name}': no file matches '{files.pattern_of(source)}' in '{file_set.directory}'"
        if policy == "allow":
            raise NothingToLoad(message + " (empty_sync_policy: allow)")
        raise SourceDataError(message + "; earlier loads are kept (set empty_sync_policy: allow to skip instead)")

    committed = store.committed()
    settle = source.settle_seconds if source.settle_seconds is not None else project.config.defaults.settle_seconds
    unsettled = _unsettled(file_set.files, settle)
    for path, age in unsettled.items():
        log.info("source '%s': %s changed %.1f s ago, within settle_seconds (%d): it may still be being written, "
                 "so it waits for the next run", source.name, _relative(path, project.root), age, settle)
    by_label = {_relative(p, project.root): p for p in file_set.files if p not in unsettled}
    identified = identify(by_label, committed)
    current = identified.entries
    if identified.hashed:
        log.info("source '%s': %d file(s) new or touched since the last load: %d bytes hashed to tell their content",
                 source.name, identified.hashed, identified.hashed_bytes)
    # one read per distinct content: a copy or a renamed file whose bytes were loaded before is not new data
    loaded = loaded_digests(committed)
    distinct: dict[str, str] = {}
    for label, entry in current.items():
        distinct.setdefault(entry["digest"], label)
    for label, entry in current.items():
        first = distinct[entry["digest"]]
        if first != label:
            log.info("source '%s': %s has the same content as %s: read once", source.name, label, first)
    readable = [by_label[label] for label in sorted(distinct.values())]
    disposition = effective_write_disposition(project, source)
    if unsettled and disposition == "replace":  # replace reads the whole set: wait until every file is settled
        raise NothingToLoad(f"source '{source.name}': {len(unsettled)} file(s) changed within settle_seconds "
                            f"({settle}); write_disposition replace reads every file, so the run waits for the next")
    changed = []
    for path in readable:
        label, digest = _relative(path, project.root), current[_relative(path, project.root)]["digest"]
        if _committed_digest(committed.get(label), path) == digest:
            continue
        if digest in loaded:
            log.info("source '%s': %s has the content of %s, loaded before: not read again (a rename or a copy)",
                     source.name, label, loaded[digest])
            continue
        changed.append(path)
    if full_refresh:
        # the committed fingerprints stay until the load commits: files loaded before are replaced by file
        # (append), upserted (merge) or the table replaced, never appended twice
        log.info("full_refresh requested: every file is read again")
        changed = readable
    elif disposition == "replace" and (changed or set(loaded) != set(distinct)):
        changed = readable
    if not changed:
        waiting = f"; {len(unsettled)} changed within settle_seconds wait for the next run" if unsettled else ""
        raise NothingToLoad(f"source '{source.name}': {len(current)} file(s), none new or changed{waiting}")

    log.info("source '%s': reading %d new or changed file(s) of %d (%s)", source.name, len(changed), len(current),
             disposition)
    started = time.monotonic()
    # plain append only when no other run has these files pending (their loads would append twice);
    # a full refresh replaces each file's rows instead
    all_new = (not full_refresh and not any(_relative(p, project.root) in committed for p in changed)
               and not pending_runs(source_state_dir(project, source)))
    try:
        # beside the pipeline's working directory, on its file system (dlt hard-links the parquet file)
        scratch, prefix = Path(pipeline.pipelines_dir), f"{_EXTRACT_DIR_PREFIX}{source.name}-"
        for leftover in scratch.glob(f"{prefix}*"):  # from a killed extract
            shutil.rmtree(leftover, ignore_errors=True)
        conflicts = _type_conflicts(project, source, pipeline, changed)
        with tempfile.TemporaryDirectory(prefix=prefix, dir=scratch) as work_dir:
            resource = file_resource(project, source, changed, Path(work_dir), all_new=all_new,
                                     variants={c.column: c.variant for c in conflicts})
            pipeline.extract(resource, loader_file_format="parquet")
        info = pipeline.normalize()
    except Exception as exc:
        cause = _root_cause(exc)
        if isinstance(cause, SourceDataError):
            raise SourceDataError(f"source '{source.name}': {cause}") from exc
        raise IngestError(f"source '{source.name}': extract/normalize failed: {cause}") from exc
    row_counts = {t: n for t, n in info.row_counts.items() if not t.startswith("_dlt")}
    for table, rows in row_counts.items():
        log.info("source '%s': table %s: %d rows normalized", source.name, table, rows)
    # a file still settling keeps the entry it had: its next read is a change, never a new file
    carried = {label: committed[label] for label in (_relative(p, project.root) for p in unsettled) if label in committed}
    store.write_pending({**current, **carried})
    column = files.column_namer(pipeline.default_schema.naming.normalize_identifier)
    described = files.describe(source.options, changed, project.root)
    source_schema = {files.table_name(source): {column(c): t for c, t in described.items()}}
    return ExtractResult(source=source.name, files=[_relative(p, project.root) for p in changed],
                         row_counts=row_counts, seconds=round(time.monotonic() - started, 3),
                         source_schema=source_schema, plain_append=all_new and disposition == "append")


def _type_conflicts(project: Project, source: Source, pipeline, paths: list[Path]) -> list[files.TypeConflict]:
    """Columns whose new values the raw table's stored type cannot hold; logged as a breaking change."""
    if not pipeline.default_schema_name:  # nothing loaded yet
        return []
    schema = pipeline.default_schema
    table = files.table_name(source)
    if table not in schema.tables:
        return []
    stored = {name: DUCKDB_TYPES.get(col.get("data_type", "text"), "varchar")
              for name, col in schema.get_table_columns(table).items()}
    conflicts = files.type_conflicts(source.options, paths, project.root, stored,
                                     files.column_namer(schema.naming.normalize_identifier))
    for c in conflicts:
        log.warning("source '%s': %s: column %s holds %r where earlier loads stored %s: a breaking type change. The "
                    "rows are kept; such values go to column %s. The schema drift policy decides what happens next "
                    "(by default dango_transform waits for `dango drift accept %s`)", source.name, c.file, c.column,
                    c.sample, c.stored, c.variant, source.name)
    return conflicts


def _extract_dlt_source(project: Project, source: Source, pipeline, interval: Interval) -> ExtractResult:
    from dango_provider.sources.registry import build_source

    if interval.full_refresh:
        log.info("source '%s': full refresh: every table is read again and replaced when the load commits",
                 source.name)
    elif interval.bounded:
        log.info("source '%s': loading the data interval [%s, %s)", source.name, interval.start, interval.end)
    else:
        log.info("source '%s': no data interval; continuing from the stored cursor", source.name)
    started = time.monotonic()
    try:
        dlt_source = build_source(project, source, interval)
        extra = {"write_disposition": "replace"} if interval.full_refresh else {}
        pipeline.extract(dlt_source, loader_file_format="parquet", **extra)
        info = pipeline.normalize()
    except Exception as exc:
        cause = _root_cause(exc)
        if isinstance(cause, MissingCredentialsError):
            raise cause from exc
        if isinstance(cause, (SourceDataError, IngestError)):
            raise type(cause)(f"source '{source.name}': {cause}") from exc
        raise IngestError(f"source '{source.name}': extract/normalize failed: {_describe(cause)}") from exc
    row_counts = {t: n for t, n in info.row_counts.items() if not t.startswith("_dlt")}
    for table, rows in row_counts.items():
        log.info("source '%s': table %s: %d rows normalized", source.name, table, rows)
    if not any(row_counts.values()):
        raise NothingToLoad(f"source '{source.name}': the source returned no rows"
                            + (f" for [{interval.start}, {interval.end})" if interval.bounded else ""))
    schema = pipeline.default_schema
    source_schema = {table: _delivered_types(source, table, schema.get_table_columns(table)) for table in row_counts}
    return ExtractResult(source=source.name, files=[], row_counts=row_counts,
                         seconds=round(time.monotonic() - started, 3), source_schema=source_schema)


def _delivered_types(source: Source, table: str, columns: dict) -> dict[str, str]:
    """Column -> DuckDB type of a table as dlt holds it. A variant column (``<column>__v_<type>``: dlt keeps
    values of a changed type there) counts as its column having that type: a breaking type change."""
    types: dict[str, str] = {}
    for name, col in columns.items():
        if name.startswith("_dlt"):
            continue
        data_type = DUCKDB_TYPES.get(col.get("data_type", "text"), "varchar")
        if col.get("variant"):
            base = name.rsplit("__v_", 1)[0]
            log.warning("source '%s': %s.%s holds values of type %s where earlier loads stored %s: a breaking type "
                        "change; those values are kept in column %s", source.name, table, base, data_type,
                        types.get(base) or DUCKDB_TYPES.get(columns.get(base, {}).get("data_type", "text")), name)
            types[base] = data_type
        elif name not in types:
            types[name] = data_type
    return types


def _describe(exc: BaseException) -> str:
    """An exception as one line: its class and message (dlt wraps errors; keep the cause readable)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_source(project: Project, source: Source, warehouse, *, owner: str, extracted: dict | None = None,
                data_interval: tuple[datetime | None, datetime | None] = (None, None),
                run_id: str | None = None) -> LoadResult:
    """Load the packages that the extract of ``run_id`` parked, under the warehouse write lock; then
    commit the run's cursor state and file fingerprints (a run that never loads moves neither)."""
    extracted = extracted or {}
    row_counts = extracted.get("row_counts", {})
    state_dir = source_state_dir(project, source)
    stash = RunStash(state_dir, run_id)
    with warehouse.write_lock(owner) as waited, source_lock(state_dir, owner=owner):
        started_at = datetime.now(UTC)  # the write window starts once the lock is held
        log.info("warehouse lock acquired after %.2fs", waited)
        working_dir = pipelines_dir(project) / Naming.pipeline_name(source.name)
        begun = stash.begun(working_dir)
        load_ids = stash.unpark(working_dir)
        already = [i for i in stash.loading() if (working_dir / "load" / "loaded" / i).exists()]
        if not load_ids and already:
            log.info("source '%s': packages %s were loaded by an earlier attempt of this run", source.name, already)
            load_ids = already
        elif not load_ids:
            raise IngestError(
                f"source '{source.name}': no extracted data of run '{run_id or 'manual'}' is waiting to be loaded "
                "(its extract did not finish); clear the run's extract task to read the data again")
        else:
            if extracted.get("plain_append"):
                try:
                    _refuse_appending_twice(warehouse, source, row_counts, extracted.get("files", []), load_ids)
                except IngestError:
                    stash.repark(working_dir, load_ids)
                    raise
            try:
                problem = _warehouse_problem(warehouse, state_dir, full_read=extracted.get("full_read", False))
            except DangoError as exc:
                stash.repark(working_dir, load_ids)
                raise IngestError(f"source '{source.name}': load into the warehouse failed: {exc}") from exc
            if problem:
                stash.repark(working_dir, load_ids)
                raise IngestError(f"source '{source.name}': {problem}; nothing was loaded. Run the source once with "
                                  f"full_refresh (airflow dags trigger {Naming.ingest_dag_id(source.name)} "
                                  "--conf '{\"full_refresh\": true}'): it reads everything into this warehouse")
            if begun:
                _restart_begun_packages(warehouse, source, working_dir, begun)
            previous_state = stash.apply_state(working_dir)
            stash.install_schemas(working_dir)
            pipeline = pipeline_for(project, source, destination=warehouse.dlt_destination())
            try:
                load_info = pipeline.load()
            except Exception as exc:
                restore_state(working_dir, previous_state)
                stash.repark(working_dir, load_ids)
                raise IngestError(f"source '{source.name}': load into the warehouse failed: {_root_cause(exc)}") from exc
            load_ids = list(load_info.loads_ids)
        finished_at = datetime.now(UTC)
        records = [
            LoadRecord(source=source.name, table_name=table, rows=rows, load_id=",".join(load_ids),
                       files=len(extracted.get("files", [])), started_at=started_at, finished_at=finished_at,
                       data_interval_start=data_interval[0], data_interval_end=data_interval[1], run_id=run_id)
            for table, rows in row_counts.items()
        ]
        def record(connection) -> str:
            record_loads(connection, records)
            return warehouse_id(connection)

        identity = warehouse.transaction(record)
        stash.commit(working_dir, fingerprints(project, source).committed_path)
        write_record(state_dir, identity, warehouse.file)
    for table, rows in row_counts.items():
        log.info("source '%s': table %s: %d rows loaded", source.name, table, rows)
    return LoadResult(source=source.name, row_counts=row_counts, load_ids=load_ids,
                      started_at=started_at.isoformat(), finished_at=finished_at.isoformat(), lock_wait_seconds=waited)


def _restart_begun_packages(warehouse, source: Source, working_dir: Path, load_ids: list[str]) -> None:
    """Packages an earlier, killed attempt began loading load again from their start, the rows they
    already wrote removed (a resumed package may write rows twice: ``sources.resume``)."""
    from dango_provider.sources.resume import delete_package_rows, restart_package

    dataset = Naming.raw_schema(source.name)
    for load_id in load_ids:
        tables = restart_package(working_dir / "load" / "normalized" / load_id)
        warehouse.transaction(lambda con, tables=tables, load_id=load_id:
                              delete_package_rows(con, dataset, tables, load_id))
        log.info("source '%s': package %s was begun by an earlier attempt of this run: its rows in %s removed, "
                 "loading it again from its start", source.name, load_id, ", ".join(tables) or "no append table")


def _warehouse_problem(warehouse, state_dir: Path, *, full_read: bool) -> str | None:
    """Why loading now would leave the warehouse without rows the source's state says it holds."""
    if full_read:
        return None
    return mismatch(state_dir, warehouse.transaction(warehouse_id))


def _refuse_appending_twice(warehouse, source: Source, tables: dict[str, int], appended: list[str],
                            load_ids: list[str]) -> None:
    """Fail when a raw table already holds rows of files that are about to be appended (rows that an
    earlier attempt of these same packages wrote do not count): the provider's state (``.dango/state``)
    no longer matches the warehouse, and appending would duplicate them."""
    schema = Naming.raw_schema(source.name)
    connection = warehouse.connect()
    try:
        for table in tables:
            exists = connection.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, table]
            ).fetchone()[0]
            if not exists:
                continue
            found = [row[0] for row in connection.execute(
                f"SELECT DISTINCT {quote_identifier(files.FILE_COLUMN)} FROM {quote_identifier(schema)}."
                f"{quote_identifier(table)} WHERE {quote_identifier(files.FILE_COLUMN)} IN (SELECT unnest(?)) "
                "AND _dlt_load_id NOT IN (SELECT unnest(?))", [appended, load_ids]).fetchall()]
            if found:
                raise IngestError(
                    f"source '{source.name}': {schema}.{table} already holds rows of {', '.join(sorted(found))}, "
                    "which the provider's state (.dango/state) does not list as loaded; appending them would "
                    "duplicate those rows, so nothing was loaded. Run the source with full_refresh "
                    "(--conf '{\"full_refresh\": true}'): it replaces the rows of every file")
    finally:
        connection.close()


def _unsettled(paths: list[Path], settle: int) -> dict[Path, float]:
    """The files modified less than ``settle`` seconds ago, with their age in seconds."""
    if not settle:
        return {}
    now = time.time()
    ages = {path: now - path.stat().st_mtime for path in paths}
    return {path: max(age, 0.0) for path, age in ages.items() if age < settle}


def _committed_digest(entry: dict | str | None, path: Path) -> str | None:
    """The digest a committed entry records; an entry of the older size:mtime form counts as the file's
    current content while its size and modification time still match."""
    if isinstance(entry, dict):
        return entry.get("digest")
    if isinstance(entry, str):
        stat = path.stat()
        if entry == f"{stat.st_size}:{stat.st_mtime_ns}":
            from dango_provider.core.fingerprints import content_digest

            return content_digest(path)
    return None


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while True:
        if isinstance(seen, (SourceDataError, MissingCredentialsError, IngestError)):
            return seen
        # an implicit context is followed only when not suppressed (`raise ... from None` hides driver
        # errors whose text may hold a connection URL with its password)
        nxt = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
        if nxt is None or nxt is seen:
            return seen
        seen = nxt
