"""``dango init``: scaffold a project, optionally with the demo e-commerce data and dbt models."""

from __future__ import annotations

import shutil
from pathlib import Path

import dango_provider
from dango_provider.exceptions import DangoError
from dango_provider.scaffold import templates

_IGNORE_IN_DEMO_DBT = shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml", "*.lock", "staging")


def demo_root() -> Path:
    """Where the demo lives: packaged in the wheel, or the repository root in a source checkout."""
    package = Path(dango_provider.__file__).parent
    for candidate in (package / "_demo", package.parent):
        if (candidate / "include" / "data").is_dir() and (candidate / ".dango" / "sources.yml").is_file():
            return candidate
    raise DangoError("the demo data is not installed with this copy of dango-provider")


def init_project(directory: Path, *, demo: bool = False) -> list[Path]:
    directory = directory.resolve()
    if (directory / "sources.yml").exists():
        raise DangoError(f"'{directory}' already has a sources.yml; not overwriting it")
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(relative: str, text: str) -> None:
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    if demo:
        root = demo_root()
        write("sources.yml", (root / ".dango" / "sources.yml").read_text(encoding="utf-8"))
        shutil.copytree(root / "include" / "data", directory / "include" / "data", dirs_exist_ok=True)
        shutil.copytree(root / "dbt", directory / "dbt", ignore=_IGNORE_IN_DEMO_DBT, dirs_exist_ok=True)
        written += [directory / "include" / "data", directory / "dbt"]
    else:
        name = "".join(c if c.isalnum() else "_" for c in directory.name.lower()).strip("_") or "dango_project"
        write("sources.yml", templates.SOURCES_YML)
        write("dbt/dbt_project.yml", templates.DBT_PROJECT_YML.format(name=name if name[0].isalpha() else f"p_{name}"))
        write("dbt/profiles.yml", templates.PROFILES_YML)
        write("dbt/macros/generate_schema_name.sql", templates.SCHEMA_MACRO)
        for folder in ("models/staging", "models/intermediate", "models/marts", "seeds", "snapshots", "tests"):
            write(f"dbt/{folder}/.gitkeep", "")
    write("dags/dango_dags.py", templates.DAG_FILE.format(project_dir=str(directory)))
    (directory / "data").mkdir(exist_ok=True)
    write(".gitignore", "data/*.duckdb*\ndata/serving/\n.dango/state/\ndbt/target/\ndbt/logs/\n")
    return written
