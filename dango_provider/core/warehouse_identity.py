"""Which warehouse a source last loaded into, so that a deleted, replaced or rebuilt warehouse is noticed.

Each warehouse gets an id in ``dango_meta.warehouse_identity`` on its first load; each source records
the id and the file's inode after every load it commits (``.dango/state/sources/<source>/warehouse.json``).
An extract compares the inode without opening the warehouse (a deleted or replaced file shows at once);
a load compares the id under the write lock (a file copied over the old one in place shows there).
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from dango_provider.core.naming import Naming

TABLE = f"{Naming.meta_schema}.warehouse_identity"
RECORD = "warehouse.json"


def warehouse_id(con) -> str:
    """The warehouse's id, created on first use. Callers hold the write lock."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {Naming.meta_schema}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL)")
    row = con.execute(f"SELECT id FROM {TABLE} LIMIT 1").fetchone()
    if row:
        return row[0]
    new = uuid.uuid4().hex
    con.execute(f"INSERT INTO {TABLE} VALUES (?, ?)", [new, datetime.now(UTC)])
    return new


def read_record(state_dir: Path) -> dict | None:
    try:
        return json.loads((state_dir / RECORD).read_text())
    except FileNotFoundError:
        return None


def write_record(state_dir: Path, identity: str, warehouse: Path | None) -> None:
    """Record the warehouse's id and, for a warehouse that is one file (``warehouse``), its inode."""
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (RECORD + ".tmp")
    tmp.write_text(json.dumps({"id": identity, "inode": warehouse.stat().st_ino if warehouse else None,
                               "path": str(warehouse) if warehouse else None}))
    os.replace(tmp, state_dir / RECORD)


def replaced_since_last_load(state_dir: Path, warehouse: Path | None) -> str | None:
    """Why the warehouse file is not the one the source last loaded into (None: it looks the same, or the
    warehouse is not one file: its id is compared at the load)."""
    record = read_record(state_dir)
    if record is None or warehouse is None or record.get("inode") is None:
        return None
    if not warehouse.exists():
        return f"the warehouse '{warehouse}' no longer exists (the source had loaded into it)"
    if warehouse.stat().st_ino != record.get("inode"):
        return f"the warehouse '{warehouse}' was replaced by another file since the source last loaded into it"
    return None


def mismatch(state_dir: Path, identity: str) -> str | None:
    """Why the open warehouse (of id ``identity``) is not the one the source last loaded into."""
    record = read_record(state_dir)
    if record is None or record.get("id") == identity:
        return None
    where = f"the warehouse '{record['path']}'" if record.get("path") else "the warehouse"
    return (f"{where} is not the one the source last loaded into (its id is "
            f"{identity}, the source loaded into {record.get('id')}): it was rebuilt or restored")
