"""Publish a read-only serving copy of the DuckDB warehouse: checkpoint, copy, verify, atomic rename.

Readers (BI tools, notebooks, the status command) open only the serving copy. A reader holding the
old copy keeps its open file (the rename replaces the directory entry, not the file it reads), so a
reader never delays or fails a write, and never sees a half-written copy.

The copy must also be readable by the oldest DuckDB that reads it: Metabase's DuckDB driver embeds
its own DuckDB (``metabase.versions.DRIVER_DUCKDB_VERSION``), and a DuckDB release reads only the
storage versions up to its own. DuckDB creates a file in the oldest storage version that holds its
contents (``v1.0.0+`` by default), so a plain file copy of the checkpointed warehouse is already
readable in the common case and is what we publish then (fast). When the warehouse was written in a
newer storage version than ``storage_version`` (a ``storage_compatibility_version`` setting, or a
newer DuckDB), the copy is rewritten instead: ``ATTACH`` a new file with ``STORAGE_VERSION`` and
``COPY FROM DATABASE`` (tables, views, sequences, macros, constraints and comments). Either way the
published file's storage version is checked before the rename.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from dango_provider.core.duckdb_config import OFFLINE
from dango_provider.core.naming import quote_identifier, quote_literal
from dango_provider.exceptions import DangoError
from dango_provider.metabase.versions import SERVING_STORAGE_VERSION

_COPY_ALIAS = "dango_serving_copy"


def serving_path(warehouse: Path) -> Path:
    return warehouse.parent / "serving" / warehouse.name


def storage_version_key(version: str | None) -> tuple[int, ...] | None:
    """``'v1.0.0+'`` or ``'v1.5.0'`` -> ``(1, 0, 0)`` / ``(1, 5, 0)``; None when it is not a version."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)\+?", (version or "").strip())
    return tuple(int(part) for part in match.groups()) if match else None


def readable_by(file_version: str | None, reader_version: str) -> bool:
    """True when a file of storage version ``file_version`` opens in a DuckDB reading ``reader_version``."""
    file_key, reader_key = storage_version_key(file_version), storage_version_key(reader_version)
    return file_key is not None and reader_key is not None and file_key <= reader_key


def writable_storage_version(wanted: str) -> str:
    """``wanted``, or the newest storage version the running DuckDB writes when that is older (DuckDB
    refuses to ``ATTACH`` with a version it does not know)."""
    import duckdb

    own = f"v{'.'.join(duckdb.__version__.split('.')[:2])}.0"
    return min(wanted, own, key=lambda version: storage_version_key(version) or (0,))


def database_storage_version(con, database: str | None = None) -> str | None:
    """The storage version DuckDB reports for an attached database (its current one by default)."""
    row = con.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = coalesce(?, current_database())",
        [database],
    ).fetchone()
    return row[0] if row else None


def publish(warehouse: Path, target: Path, *, storage_version: str = SERVING_STORAGE_VERSION) -> dict:
    """Copy ``warehouse`` to ``target`` atomically. The caller holds the warehouse write lock.

    The copy is in a storage version no newer than ``storage_version`` (default: what the pinned
    Metabase DuckDB driver reads). Returns the path, table count, size, storage version and how the
    copy was made (``file copy`` or ``rewrite``).
    """
    import duckdb

    if not warehouse.exists():
        raise DangoError(f"warehouse '{warehouse}' does not exist: nothing to publish")
    return publish_copy(lambda tmp: _write_copy(duckdb, warehouse, tmp, storage_version), target,
                        storage_version=storage_version, source=str(warehouse))


def publish_copy(write: Callable[[Path], str], target: Path, *, storage_version: str = SERVING_STORAGE_VERSION,
                 source: str = "the warehouse") -> dict:
    """Publish the DuckDB file ``write(tmp)`` writes (returning how it made it) as ``target``: its storage
    version checked against ``storage_version``, then renamed into place atomically."""
    import duckdb

    if storage_version_key(storage_version) is None:
        raise DangoError(f"'{storage_version}' is not a DuckDB storage version (expected e.g. 'v1.5.0')")
    target.parent.mkdir(parents=True, exist_ok=True)
    # a private directory beside the target: same file system (atomic rename), and the new file
    # keeps the target's name while it is written
    workdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    tmp = workdir / target.name
    try:
        method = write(tmp)
        check = duckdb.connect(str(tmp), read_only=True, config=OFFLINE)
        try:
            (tables,) = check.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('information_schema', 'pg_catalog')"
            ).fetchone() or (0,)
            copy_version = database_storage_version(check)
        finally:
            check.close()
        if not readable_by(copy_version, storage_version):
            raise DangoError(
                f"the serving copy of '{source}' has storage version {copy_version}, newer than "
                f"{storage_version} which its readers need; not publishing it"
            )
        tmp.replace(target)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"path": str(target), "tables": tables, "bytes": target.stat().st_size,
            "storage_version": copy_version, "method": method}


def _write_copy(duckdb, warehouse: Path, tmp: Path, storage_version: str) -> str:
    con = duckdb.connect(str(warehouse), config=OFFLINE)
    try:
        con.execute("CHECKPOINT")  # fold the WAL into the file so the copy is complete on its own
        live_version = database_storage_version(con)
        if readable_by(live_version, storage_version):
            method = "file copy"
        else:
            method = "rewrite"
            source = con.execute("SELECT current_database()").fetchone()[0]
            con.execute(f"ATTACH {quote_literal(str(tmp))} AS {_COPY_ALIAS} "
                        f"(STORAGE_VERSION {quote_literal(writable_storage_version(storage_version))})")
            try:
                con.execute(f"COPY FROM DATABASE {quote_identifier(source)} TO {_COPY_ALIAS}")
            except duckdb.Error as exc:
                raise DangoError(
                    f"cannot write the serving copy of '{warehouse}' (storage version {live_version}) in "
                    f"storage version {storage_version}: {exc}"
                ) from exc
            finally:
                con.execute(f"DETACH {_COPY_ALIAS}")  # checkpoints the new file: no WAL beside it
    finally:
        con.close()
    if method == "file copy":
        shutil.copyfile(warehouse, tmp)
    return method
