"""The dbt tasks' ``pre_execute``: a node that depends on a source that never loaded skips with the reason,
also when the manifest the task was rendered from is newer than the one ``sources_ready`` read; in a run
scoped to some sources, a node that depends on none of them skips and says so."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from dango_provider.dbt.task_group import leave_out

MANIFEST = {
    "sources": {"source.p.raw_crm.crm": {"source_name": "raw_crm"},
                "source.p.raw_shop.shop": {"source_name": "raw_shop"}},
    "nodes": {
        "model.p.stg_crm__crm": {"name": "stg_crm__crm", "original_file_path": "models/staging/crm/stg_crm__crm.sql",
                                 "depends_on": {"nodes": ["source.p.raw_crm.crm"]}},
        "model.p.accounts": {"name": "accounts", "original_file_path": "models/marts/accounts.sql",
                             "fqn": ["p", "marts", "accounts"],
                             "resource_type": "model",
                             "depends_on": {"nodes": ["model.p.stg_crm__crm"]}},
        "model.p.orders": {"name": "orders", "original_file_path": "models/marts/orders.sql",
                           "fqn": ["p", "marts", "orders"],
                           "depends_on": {"nodes": []}, "resource_type": "model"},
        "model.p.stg_shop__shop": {"name": "stg_shop__shop", "resource_type": "model",
                                   "original_file_path": "models/staging/shop/stg_shop__shop.sql",
                                   "depends_on": {"nodes": ["source.p.raw_shop.shop"]}},
        "model.p.both": {"name": "both", "original_file_path": "models/marts/both.sql", "resource_type": "model",
                         "depends_on": {"nodes": ["model.p.accounts", "model.p.stg_shop__shop"]}},
    },
}


def context(tmp_path, scope: dict, select: str | None, task_id: str = "dbt.x_run"):
    (tmp_path / "target").mkdir(exist_ok=True)
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(MANIFEST))
    task = SimpleNamespace(select=select, project_dir=str(tmp_path), task_id=task_id, exclude=None)
    return {"ti": SimpleNamespace(xcom_pull=lambda task_ids: scope), "task": task}


def test_a_node_of_a_source_not_loaded_skips_even_when_sources_ready_saw_an_older_manifest(tmp_path):
    scope = {"ready": ["shop"], "not_ready": ["crm"], "left_out": {}}  # its manifest had no crm nodes yet
    with pytest.raises(AirflowSkipException, match="left out: accounts depends on source\\(s\\) not loaded yet: crm"):
        leave_out(context(tmp_path, scope, "fqn:p.marts.accounts"))
    leave_out(context(tmp_path, scope, "fqn:p.marts.orders"))  # runs


def test_the_build_leaves_out_the_staging_folder_and_the_nodes_of_a_source_not_loaded(tmp_path):
    ctx = context(tmp_path, {"not_ready": ["crm"], "left_out": {}}, None, task_id="dbt_build")
    leave_out(ctx)
    # by fqn: a bare name would also select a folder of that name
    assert ctx["task"].exclude == ["path:models/staging/crm", "fqn:p.marts.accounts"]


def test_nothing_runs_without_the_decision_of_sources_ready(tmp_path):
    with pytest.raises(AirflowSkipException, match="nothing to build in this run: sources_ready decided so"):
        leave_out(context(tmp_path, None, "fqn:p.marts.orders"))


def test_a_run_scoped_to_a_source_builds_only_what_depends_on_it(tmp_path):
    scope = {"ready": ["shop", "crm"], "not_ready": [], "left_out": {}, "selected": ["shop"],
             "not_selected": ["orders"]}
    with pytest.raises(AirflowSkipException, match="not selected: this run rebuilds only what depends on shop; "
                                                   "orders keeps what the warehouse holds"):
        leave_out(context(tmp_path, scope, "fqn:p.marts.orders"))
    with pytest.raises(AirflowSkipException, match="accounts keeps what the warehouse holds"):
        leave_out(context(tmp_path, scope, "fqn:p.marts.accounts"))  # from the current manifest
    leave_out(context(tmp_path, scope, "fqn:p.marts.both"))  # on shop and crm: rebuilt
    build = context(tmp_path, scope, None, task_id="dbt_build")
    leave_out(build)
    assert build["task"].exclude == ["path:models/staging/crm", "fqn:p.marts.accounts", "fqn:p.marts.orders"]
