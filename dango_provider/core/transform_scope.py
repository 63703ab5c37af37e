"""Which dbt nodes a transform run leaves out: those that depend, directly or through other nodes, on
a source that has never loaded (its raw schema or its generated staging models). Pure code over a
dbt ``manifest.json``."""

from __future__ import annotations

import re
from pathlib import Path

from dango_provider.core.naming import Naming


def left_out(manifest: dict, not_ready: list[str]) -> dict[str, list[str]]:
    """Node name -> the not-ready sources it depends on, for every model, seed, snapshot or test that a
    run must leave out (sorted by name)."""
    if not not_ready:
        return {}
    nodes = manifest.get("nodes", {})
    blocked: dict[str, set[str]] = {}
    for unique_id, source in manifest.get("sources", {}).items():
        for name in not_ready:
            if source.get("source_name") == Naming.raw_schema(name):
                blocked[unique_id] = {name}
    for unique_id, node in nodes.items():
        path = node.get("original_file_path", "").replace("\\", "/")
        for name in not_ready:
            if f"models/staging/{name}/" in path:
                blocked.setdefault(unique_id, set()).add(name)
    changed = True
    while changed:  # depends_on is acyclic: at most one pass per level of the graph
        changed = False
        for unique_id, node in nodes.items():
            upstream = set()
            for parent in node.get("depends_on", {}).get("nodes", []):
                upstream |= blocked.get(parent, set())
            if upstream - blocked.get(unique_id, set()):
                blocked[unique_id] = blocked.get(unique_id, set()) | upstream
                changed = True
    return {nodes[u]["name"]: sorted(sources) for u, sources in sorted(blocked.items(), key=lambda i: i[0])
            if u in nodes}


_SCANNED = ("models", "snapshots", "tests", "seeds", "macros", "analyses")


def unparseable_references(dbt_dir: Path, not_ready: list[str]) -> dict[str, list[str]]:
    """Project file (relative) -> the missing names it references: staging models (``stg_<source>__*``)
    or raw sources (``raw_<source>``) of sources that have never loaded and whose generated files do not
    exist yet. dbt cannot parse a project with such references, so nothing can be built until the
    source loads once."""
    found: dict[str, set[str]] = {}
    for name in not_ready:
        staging = Naming.staging_dir(dbt_dir, name)
        existing = {p.stem for p in staging.glob("*.sql")} if staging.is_dir() else set()
        has_sources_file = staging.is_dir() and any(staging.glob("_*__sources.yml"))
        model = re.compile(rf"\bstg_{re.escape(name)}__\w+")
        raw = re.compile(rf"""['"]{re.escape(Naming.raw_schema(name))}['"]""")
        for folder in _SCANNED:
            for path in sorted((dbt_dir / folder).rglob("*")) if (dbt_dir / folder).is_dir() else []:
                if path.suffix not in (".sql", ".yml", ".yaml") or path.is_relative_to(staging):
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
                missing = {m for m in model.findall(text) if m not in existing}
                if not has_sources_file and raw.search(text):
                    missing.add(Naming.raw_schema(name))
                if missing:
                    found.setdefault(str(path.relative_to(dbt_dir)), set()).update(missing)
    return {file: sorted(names) for file, names in sorted(found.items())}
