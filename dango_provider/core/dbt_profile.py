"""The dbt profile our dbt runs use.

A dbt project's own ``profiles.yml`` is used as it is when it already suits a run here: every output is
offline (no ``extensions`` to install) and its DuckDB ``path`` comes from ``DANGO_WAREHOUSE_PATH`` (the
warehouse of sources.yml), as ``dango init`` writes it. Otherwise (a Dango project's profile names
``extensions: [httpfs, parquet]``, which dbt-duckdb would download, and a path relative to the directory
dbt happens to run in) the runs use a derived copy, ``<dbt project>/target/dango/profiles.yml``: the same
profile with the path from ``DANGO_WAREHOUSE_PATH`` and no extensions. The project's file is not changed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

WAREHOUSE_ENV = "DANGO_WAREHOUSE_PATH"
WAREHOUSE_PATH = "{{ env_var('DANGO_WAREHOUSE_PATH') }}"
#: set (by ``DuckLakeHook.dbt_env``) when the warehouse is a DuckLake: every DuckDB output becomes ``LAKE_OUTPUT``
LAKE_ENV = "DANGO_LAKE_CATALOG_CONN_ID"
#: the variable the lake's catalog URL comes from; dbt replaces the value of DBT_ENV_SECRET_* by ***** in its output
CATALOG_ENV = "DBT_ENV_SECRET_DANGO_LAKE_CATALOG"
LAKE_ALIAS = "lake"

#: a dbt-duckdb output for a DuckLake warehouse: an in-memory DuckDB whose default database is the attached
#: lake. Extensions load from the packaged directory at connect time (``config_options``: dbt-duckdb applies
#: ``settings`` after the attach, and would then try to download ``ducklake``). Decision 0011.
LAKE_OUTPUT: dict = {
    "type": "duckdb",
    "path": ":memory:",
    "database": LAKE_ALIAS,
    "threads": 1,
    "extensions": [],
    "config_options": {
        "extension_directory": "{{ env_var('DANGO_DUCKDB_EXTENSION_DIRECTORY') }}",
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    },
    "attach": [{
        "path": "{{ env_var('" + CATALOG_ENV + "') }}",
        "alias": LAKE_ALIAS,
        "options": {"data_path": "{{ env_var('DANGO_LAKE_DATA_PATH') }}",
                    "metadata_schema": "{{ env_var('DANGO_LAKE_METADATA_SCHEMA') }}"},
    }],
}


def _derive(profiles: dict, lake: bool = False) -> tuple[dict, list[str]]:
    """(the profiles with every DuckDB output made offline and pointed at the warehouse, what was changed)."""
    changes = []
    derived = {}
    for name, profile in profiles.items():
        if not isinstance(profile, dict) or not isinstance(profile.get("outputs"), dict):
            derived[name] = profile
            continue
        outputs = {}
        for target, output in profile["outputs"].items():
            if isinstance(output, dict) and output.get("type") == "duckdb" and lake:
                changes.append(f"profile {name}.{target}: attaches the DuckLake warehouse of sources.yml")
                output = {**LAKE_OUTPUT, "threads": output.get("threads", 1)}
            elif isinstance(output, dict) and output.get("type") == "duckdb":
                output = dict(output)
                if output.get("extensions"):
                    changes.append(f"profile {name}.{target}: extensions {', '.join(map(str, output['extensions']))} "
                                   "are not installed (nothing is downloaded at run time)")
                    output["extensions"] = []
                if WAREHOUSE_ENV not in str(output.get("path", "")):
                    changes.append(f"profile {name}.{target}: path {output.get('path')!r} is replaced by the "
                                   "warehouse of sources.yml")
                    output["path"] = WAREHOUSE_PATH
            outputs[target] = output
        derived[name] = {**profile, "outputs": outputs}
    return derived, changes


def _derived(dbt_dir: Path, lake: bool = False) -> tuple[dict, list[str]]:
    """The project's profiles.yml derived for a run here, and what changed (nothing for a missing or broken
    file: dbt reports that itself)."""
    try:
        profiles = yaml.safe_load((dbt_dir / "profiles.yml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}, []
    return _derive(profiles, lake) if isinstance(profiles, dict) else ({}, [])


def profile_changes(dbt_dir: Path, lake: bool = False) -> list[str]:
    """What the runs here change in the project's profiles.yml (empty when it is used as it is)."""
    return _derived(dbt_dir, lake)[1]


def profile_name(dbt_dir: Path) -> str:
    """The profile ``dbt_project.yml`` names (``dango`` when it names none)."""
    try:
        return yaml.safe_load((dbt_dir / "dbt_project.yml").read_text()).get("profile") or "dango"
    except (OSError, AttributeError, yaml.YAMLError):
        return "dango"


def profiles_dir(dbt_dir: Path, env: Mapping[str, str] | None = None) -> Path:
    """The directory of the profiles.yml to run dbt with (see the module's documentation); ``env`` is the
    warehouse's ``dbt_env``, which says whether it is a DuckLake."""
    derived, changes = _derived(dbt_dir, lake=LAKE_ENV in (env or {}))
    if not changes:
        return dbt_dir
    target = dbt_dir / "target" / "dango"
    text = "# derived from ../../profiles.yml by dango-provider: " + "; ".join(changes) + "\n" + yaml.safe_dump(
        derived, sort_keys=False)
    current = target / "profiles.yml"
    if not current.is_file() or current.read_text(encoding="utf-8") != text:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f"profiles.yml.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(current)
    return target
