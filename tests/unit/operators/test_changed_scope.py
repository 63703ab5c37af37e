"""``transform: {build: changed}``: a run started by some sources' loads also builds the loads of other
sources that no transform has built and published yet (a source's first load whose event started another
run, say), since the models it rebuilds may depend on them; a built load is left to its own run."""

from __future__ import annotations

from types import SimpleNamespace

from dango_provider.config.loader import load_project
from dango_provider.core.governance_state import built_ready_at, mark_ready, write_transform_scope
from dango_provider.core.naming import Naming
from dango_provider.dbt.one_build import mark_scope_built
from dango_provider.operators.readiness import SourcesReadyOperator

SOURCES = """\
version: "1.0"
transform: {build: changed}
sources:
  - {name: shop, type: csv, csv: {directory: data/shop}}
  - {name: crm, type: csv, csv: {directory: data/crm}}
  - {name: web, type: csv, csv: {directory: data/web}}
"""


def _project(tmp_path):
    (tmp_path / "sources.yml").write_text(SOURCES)
    return load_project(tmp_path)


def _started_by(*names: str) -> dict:
    # iterated as Airflow's accessor is: its keys are the assets
    return {"triggering_asset_events": [SimpleNamespace(uri=Naming.raw_asset_uri(n)) for n in names],
            "dag_run": SimpleNamespace(conf={})}


def _state(project, name: str):
    return Naming.source_state_dir(project.root, name)


def test_a_run_started_by_one_load_also_builds_loads_never_built(tmp_path):
    project = _project(tmp_path)
    for name in ("shop", "crm"):
        mark_ready(_state(project, name), {})
    loads = {"shop": "shop-1", "crm": "crm-1"}  # the ready_at of each source's load, as sources_ready reads it
    operator = SourcesReadyOperator(task_id="sources_ready", project_dir=str(tmp_path))
    # shop's first load is not built yet: it joins crm's run (web has never loaded: not ready, not built)
    assert operator._selected(_started_by("crm"), project, ["shop", "crm"], loads) == ["crm", "shop"]

    # once a run with both published, shop's load is built and crm's next run leaves it out
    state_root = Naming.state_dir(project.root)
    write_transform_scope(state_root, {"run_id": "r1", "ready": ["shop", "crm"], "selected": ["crm", "shop"],
                                       "loads": loads, "skipped": None})
    mark_scope_built(project.root, "r1")
    assert built_ready_at(_state(project, "shop")) == "shop-1"
    assert operator._selected(_started_by("crm"), project, ["shop", "crm"], loads) == ["crm"]

    # a newer load of shop that no run has built yet joins again
    assert operator._selected(_started_by("crm"), project, ["shop", "crm"], {**loads, "shop": "shop-2"}) == \
        ["crm", "shop"]


def test_only_a_published_run_of_the_scope_marks_its_loads_built(tmp_path):
    project = _project(tmp_path)
    state_root = Naming.state_dir(project.root)
    write_transform_scope(state_root, {"run_id": "r2", "ready": ["shop"], "selected": None,
                                       "loads": {"shop": "shop-1"}, "skipped": None})
    mark_scope_built(project.root, "another run")  # the scope on record is not this run's
    assert built_ready_at(_state(project, "shop")) is None
    mark_scope_built(project.root, "r2")  # a whole-project run built every ready source
    assert built_ready_at(_state(project, "shop")) == "shop-1"
