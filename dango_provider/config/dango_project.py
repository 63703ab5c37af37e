"""Dango's ``.dango/project.yml``: its ``platform`` paths (``duckdb_path``, ``dbt_project_dir``) move the
warehouse and the dbt project, as they do in Dango, unless sources.yml names them itself (``warehouse.path``,
``dbt.project_dir``). Its other settings (ports, auth, file watching) belong to Dango's own server and are
not read. Pure code."""

from __future__ import annotations

from pathlib import Path

import yaml

from dango_provider.exceptions import DangoConfigError

#: project.yml platform key -> (sources.yml block, its field)
PLATFORM_PATHS = {"duckdb_path": ("warehouse", "path"), "dbt_project_dir": ("dbt", "project_dir")}


def read_platform_paths(root: Path) -> dict[str, str]:
    """``{"duckdb_path": ..., "dbt_project_dir": ...}`` as set in ``root/.dango/project.yml`` (absent keys left out)."""
    path = root / ".dango" / "project.yml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DangoConfigError(f"malformed YAML: {getattr(exc, 'problem', None) or exc}", file=str(path),
                               line=mark.line + 1 if mark else None) from None
    platform = data.get("platform") if isinstance(data, dict) else None
    if platform is None:
        return {}
    if not isinstance(platform, dict):
        raise DangoConfigError("platform must be a mapping", file=str(path), field="platform")
    found = {}
    for key in PLATFORM_PATHS:
        value = platform.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise DangoConfigError(f"must be a path, got {value!r}", file=str(path), field=f"platform.{key}")
        found[key] = value
    return found


def apply_platform_paths(config, paths: dict[str, str]):
    """(``config`` with project.yml's paths where sources.yml does not set its own, the project.yml keys used)."""
    update, used = {}, []
    for key, (block, field) in PLATFORM_PATHS.items():
        own = getattr(config, block)
        if key in paths and (block not in config.model_fields_set or field not in own.model_fields_set):
            update[block] = own.model_copy(update={field: paths[key]})
            used.append(key)
    return (config.model_copy(update=update) if update else config), used


def relocate(problems: list[tuple[list, str]], used: list[str], root: Path) -> list[DangoConfigError]:
    """The path problems of values taken from project.yml, as errors naming project.yml and its key."""
    where = {PLATFORM_PATHS[key]: key for key in used}
    return [DangoConfigError(message, file=str(root / ".dango" / "project.yml"), field=f"platform.{where[tuple(loc)]}")
            for loc, message in problems if tuple(loc) in where]
