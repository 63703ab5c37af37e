"""``register(globals())``: put a project's DAGs into a DAG file's namespace.

A mistake inside one source entry leaves out only that source's DAG: the other sources and
``dango_transform`` load, and the mistake shows as an import error of the DAG file (file, line and
field) through a placeholder DAG that fails Airflow's validation. A mistake outside the entries
(malformed YAML, a bad ``warehouse`` block) raises here: the whole file is an import error.

In a task's process Airflow says which DAG it parses the file for (``get_parsing_context``): only that one
is built, the pattern Airflow documents for generated DAG files.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from dango_provider.core.naming import Naming
from dango_provider.dag_builder.build import build_dags, invalid_sources_dag
from dango_provider.settings import load_configured_project as load_project
from dango_provider.settings import resolve_project_dir
from dango_provider.sources.names import name_problems


def register(namespace: MutableMapping[str, Any], project_dir: str | None = None) -> dict[str, Any]:
    from airflow.sdk import get_parsing_context

    project = load_project(resolve_project_dir(project_dir), isolate_sources=True)
    project = project.leave_out(name_problems(project))
    # a task process parses the file for one DAG (Airflow names it): the others, Cosmos' rendering of the
    # transform included, are not built there
    wanted = get_parsing_context().dag_id
    dags = build_dags(project, only=wanted)
    if project.invalid_sources and wanted is None:
        dags[Naming.invalid_sources_dag_id] = invalid_sources_dag(project)
    namespace.update(dags)
    return dags
