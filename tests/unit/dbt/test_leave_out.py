"""The dbt tasks' ``pre_execute``: a node that depends on a source that never loaded skips with the reason,
also when the manifest the task was rendered from is newer than the one ``sources_ready`` read."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from dango_provider.dbt.task_group import leave_out_not_ready

MANIFEST = {
    "sources": {"source.p.raw_crm.crm": {"source_name": "raw_crm"}},
    "nodes": {
        "model.p.stg_crm__crm": {"name": "stg_crm__crm", "original_file_path": "models/staging/crm/stg_crm__crm.sql",
                                 "depends_on": {"nodes": ["source.p.raw_crm.crm"]}},
        "model.p.accounts": {"name": "accounts", "original_file_path": "models/marts/accounts.sql",
                             "depends_on": {"nodes": ["model.p.stg_crm__crm"]}},
        "model.p.orders": {"name": "orders", "original_file_path": "models/marts/orders.sql",
                           "depends_on": {"nodes": []}},
    },
}


def context(tmp_path, scope: dict, select: str, task_id: str = "dbt.x_run"):
    (tmp_path / "target").mkdir(exist_ok=True)
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(MANIFEST))
    task = SimpleNamespace(select=select, project_dir=str(tmp_path), task_id=task_id, exclude=None)
    return {"ti": SimpleNamespace(xcom_pull=lambda task_ids: scope), "task": task}


def test_a_node_of_a_source_not_loaded_skips_even_when_sources_ready_saw_an_older_manifest(tmp_path):
    scope = {"ready": ["shop"], "not_ready": ["crm"], "left_out": {}}  # its manifest had no crm nodes yet
    with pytest.raises(AirflowSkipException, match="left out: accounts depends on source\\(s\\) not loaded yet: crm"):
        leave_out_not_ready(context(tmp_path, scope, "fqn:p.marts.accounts"))
    leave_out_not_ready(context(tmp_path, scope, "fqn:p.marts.orders"))  # runs


def test_the_staging_build_leaves_out_the_staging_folder_of_a_source_not_loaded(tmp_path):
    ctx = context(tmp_path, {"not_ready": ["crm"], "left_out": {}}, "path:models/staging", task_id="dbt_staging")
    leave_out_not_ready(ctx)
    assert ctx["task"].exclude == ["path:models/staging/crm"]
