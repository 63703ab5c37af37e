"""Generate the dbt docs site and publish it beside the serving copy, where the UI plugin serves it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from dango_provider.core.dbt_cli import run_dbt, with_parse_state
from dango_provider.exceptions import DbtRunError

SITE_FILES = ("index.html", "manifest.json", "catalog.json")


KEY_FILE = ".dango_docs_key"


def docs_key(manifest: Path, con) -> str:
    """What the site is made of: the dbt manifest (without its run metadata) and the warehouse's tables and
    columns with their types (the catalog's content). ``con``: an open connection to the warehouse."""
    import hashlib
    import json

    digest = hashlib.sha256()
    try:
        parsed = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        parsed = None
    if isinstance(parsed, dict):
        parsed.pop("metadata", None)
    digest.update(json.dumps(parsed, sort_keys=True, default=str).encode())
    for row in con.execute("select table_schema, table_name, column_name, data_type, ordinal_position "
                           "from information_schema.columns order by all").fetchall():
        digest.update(repr(row).encode())
    return digest.hexdigest()


def published_key(docs_dir: Path) -> str | None:
    try:
        return (docs_dir / KEY_FILE).read_text(encoding="utf-8").strip() if (docs_dir / "index.html").exists() else None
    except OSError:
        return None


def generate_docs(dbt_dir: Path, env: dict[str, str], docs_dir: Path, target: str | None = None,
                  key: str | None = None, run: Callable[[list[str], Path, dict[str, str]], object] = run_dbt) -> dict:
    """``dbt docs generate`` into a temporary target, then swap it in as ``docs_dir``.

    The caller holds the warehouse write lock (the catalog query opens the warehouse). Readers see
    either the previous site or the new one, never a mix of the two. dbt parses partially from the state
    the last ``dbt parse`` of the project kept (copied in; profile and target named as that parse names
    them). ``run(args, dbt_dir, env)`` runs dbt: a subprocess by default, or in the caller's process.
    """
    docs_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=docs_dir.parent, prefix=".docs-target-") as tmp:
        named = with_parse_state(dbt_dir, Path(tmp), target)
        run(["docs", "generate", "--quiet", *named, "--target-path", tmp], dbt_dir, env)
        missing = [name for name in SITE_FILES if not (Path(tmp) / name).exists()]
        if missing:
            raise DbtRunError(f"`dbt docs generate` in '{dbt_dir}' wrote no {', '.join(missing)}")
        staged = Path(tempfile.mkdtemp(dir=docs_dir.parent, prefix=".docs-new-"))
        for name in SITE_FILES:
            shutil.copyfile(Path(tmp) / name, staged / name)
        if key:
            (staged / KEY_FILE).write_text(key, encoding="utf-8")
    old = docs_dir.with_name(docs_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if docs_dir.exists():
        os.replace(docs_dir, old)
    os.replace(staged, docs_dir)
    shutil.rmtree(old, ignore_errors=True)
    catalog = (docs_dir / "catalog.json").read_text(encoding="utf-8")
    return {"path": str(docs_dir), "catalog_bytes": len(catalog)}
