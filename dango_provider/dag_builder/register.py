"""``register(globals())``: put a project's DAGs into a DAG file's namespace, strictly.

A bad sources.yml raises here, so Airflow shows it as an import error of the DAG file with the
file, line and field, instead of DAGs that silently vanish.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from dango_provider.dag_builder.build import build_dags
from dango_provider.settings import load_configured_project as load_project
from dango_provider.settings import resolve_project_dir
from dango_provider.sources.names import check_names


def register(namespace: MutableMapping[str, Any], project_dir: str | None = None) -> dict[str, Any]:
    project = load_project(resolve_project_dir(project_dir))
    check_names(project)
    dags = build_dags(project)
    namespace.update(dags)
    return dags
