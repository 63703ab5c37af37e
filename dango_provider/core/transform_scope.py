"""Which dbt nodes a transform run leaves out: those that depend, directly or through other nodes, on
a source that has never loaded (its raw schema or its generated staging models), and, in a run scoped to
some sources, those that depend on none of them. Pure code over a dbt ``manifest.json``."""

from __future__ import annotations

import re
from pathlib import Path

from dango_provider.core.naming import Naming


def left_out(manifest: dict, not_ready: list[str]) -> dict[str, list[str]]:
    """Node name -> the not-ready sources it depends on, for every model, seed, snapshot or test that a
    run must leave out (sorted by name)."""
    return depending_on(manifest, not_ready)


def not_selected(manifest: dict, selected: list[str]) -> list[str]:
    """Names of the models, seeds, snapshots and tests that depend on none of ``selected`` (directly or
    through other nodes): what a run scoped to those sources does not rebuild."""
    depending = depending_on(manifest, selected)
    return sorted(node["name"] for node in manifest.get("nodes", {}).values()
                  if node.get("resource_type") in _BUILT and node["name"] not in depending)


_BUILT = ("model", "seed", "snapshot", "test")


def depending_on(manifest: dict, sources: list[str]) -> dict[str, list[str]]:
    """Node name -> which of ``sources`` it depends on (their raw schema or generated staging models,
    directly or through other nodes), for every node that depends on one."""
    if not sources:
        return {}
    nodes = manifest.get("nodes", {})
    blocked: dict[str, set[str]] = {}
    for unique_id, source in manifest.get("sources", {}).items():
        for name in sources:
            if source.get("source_name") == Naming.raw_schema(name):
                blocked[unique_id] = {name}
    for unique_id, node in nodes.items():
        path = node.get("original_file_path", "").replace("\\", "/")
        for name in sources:
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
    return {nodes[u]["name"]: sorted(names) for u, names in sorted(blocked.items(), key=lambda i: i[0])
            if u in nodes}


def feeds(manifest: dict, sources: list[str]) -> dict[str, list[str]]:
    """Source -> the models and snapshots built from it, directly or through other models, beyond its own
    staging models: its lineage to the marts (marts first, then by name)."""
    nodes = {node["name"]: node for node in manifest.get("nodes", {}).values()}
    out: dict[str, list[str]] = {name: [] for name in sources}
    for node_name, names in depending_on(manifest, sources).items():
        node = nodes.get(node_name, {})
        path = node.get("original_file_path", "").replace("\\", "/")
        if node.get("resource_type") not in ("model", "snapshot") or path.startswith("models/staging/"):
            continue
        for name in names:
            out[name].append(node_name)
    marts_first = {n: (0 if nodes[n].get("original_file_path", "").startswith("models/marts/") else 1, n)
                   for n in nodes}
    return {name: sorted(models, key=lambda m: marts_first[m]) for name, models in out.items()}


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
        for path, text in _project_files(dbt_dir, staging):
            missing = {m for m in model.findall(text) if m not in existing}
            if not has_sources_file and raw.search(text):
                missing.add(Naming.raw_schema(name))
            if missing:
                found.setdefault(str(path.relative_to(dbt_dir)), set()).update(missing)
    return {file: sorted(names) for file, names in sorted(found.items())}


def _project_files(dbt_dir: Path, skip: Path):
    """(path, text) of the project's SQL and YAML files that may reference a source, outside ``skip``."""
    for folder in _SCANNED:
        for path in sorted((dbt_dir / folder).rglob("*")) if (dbt_dir / folder).is_dir() else []:
            if path.suffix in (".sql", ".yml", ".yaml") and not path.is_relative_to(skip):
                yield path, path.read_text(encoding="utf-8", errors="replace")


PLACEHOLDER = "placeholder"


def _references(dbt_dir: Path, name: str) -> tuple[set[str], set[str]]:
    """(staging model names ``stg_<name>__*``, tables of ``source('raw_<name>', ...)``) the project's own
    files reference, outside the source's generated staging directory."""
    staging = Naming.staging_dir(dbt_dir, name)
    model = re.compile(rf"\bstg_{re.escape(name)}__\w+")
    raw = re.compile(rf"""source\(\s*['"]{re.escape(Naming.raw_schema(name))}['"]\s*,\s*['"](\w+)['"]""")
    models: set[str] = set()
    tables: set[str] = set()
    for _, text in _project_files(dbt_dir, staging):
        models.update(model.findall(text))
        tables.update(raw.findall(text))
    return models, tables


def write_placeholders(dbt_dir: Path, not_ready: list[str]) -> list[Path]:
    """Let dbt parse a project that refers to sources that have never loaded: for each such reference, an
    empty generated model (``stg_<source>__<table>``) or a sources entry (``raw_<source>``) in the source's
    generated staging directory. The transform leaves them and everything built on them out (they sit in
    ``models/staging/<source>/``) until the source loads and its real staging files replace them.
    Returns the files written."""
    from dango_provider.core.staging import MARKER, write_if_changed

    header = f"{MARKER} {PLACEHOLDER}"
    written = []
    for name in not_ready:
        staging = Naming.staging_dir(dbt_dir, name)
        existing = {p.stem for p in staging.glob("*.sql")} if staging.is_dir() else set()
        models, tables = _references(dbt_dir, name)
        for model in sorted(models - existing):
            path = staging / f"{model}.sql"
            text = (f"-- {header}: source '{name}' has not loaded yet; the generated model replaces this file "
                    "when it does\nselect null as dango_placeholder where false\n")
            if write_if_changed(path, text):
                written.append(path)
        sources_file = staging / f"_{name}__sources.yml"
        if tables and (not sources_file.exists() or PLACEHOLDER in (sources_file.read_text().splitlines() or [""])[0]):
            entries = "".join(f"      - name: {t}\n" for t in sorted(tables))
            text = (f"# {header}: source '{name}' has not loaded yet\nversion: 2\nsources:\n"
                    f"  - name: {Naming.raw_schema(name)}\n    schema: {Naming.raw_schema(name)}\n    tables:\n{entries}")
            if write_if_changed(sources_file, text):
                written.append(sources_file)
    return written


def is_placeholder(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return PLACEHOLDER in handle.readline()
    except OSError:
        return False
