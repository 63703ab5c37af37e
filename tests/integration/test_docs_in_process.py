"""``dbt docs generate`` in the task's process (the docs task): the site is whole (compiled SQL in its
manifest, the warehouse's tables in its catalog), dbt parses partially from the state the project's last
``dbt parse`` kept, nothing of dbt's DuckDB connection outlives the call (the next task of an ``airflow
dags test`` process opens the file with another configuration), the process environment is as before,
and a failing generate raises naming the model. Real dlt load, real dbt, real DuckDB file."""

from __future__ import annotations

import json
import os

import duckdb
import pytest

from dango_provider.config.loader import load_project
from dango_provider.core.dbt_cli import refresh_manifest, run_dbt, run_dbt_in_process
from dango_provider.core.dbt_docs import generate_docs
from dango_provider.core.staging import RawTable, write_staging
from dango_provider.exceptions import DbtRunError
from dango_provider.hooks.duckdb import DuckDBHook
from tests.conftest import make_small_project
from tests.ingest import sync

pytestmark = pytest.mark.slow

SOURCES = ('version: "1.0"\nsources:\n  - name: orders\n    type: csv\n    primary_key: order_id\n'
           "    csv: {directory: data/orders}\n")
MART = "select count(*) as n, sum(amount) as total from {{ ref('stg_orders__orders') }}\n"


@pytest.fixture
def project(tmp_path):
    root = make_small_project(tmp_path / "p", SOURCES, {
        "data/orders/o.csv": "order_id,amount\n1,10.0\n2,20.0\n",
        "dbt/models/marts/order_totals.sql": MART,
    })
    sync(root, "orders")
    project = load_project(root)
    hook = DuckDBHook(project.warehouse_path)
    write_staging(project.dbt_dir, "orders", [RawTable(source="orders", table="orders", primary_key=["order_id"],
                                                      columns=[("order_id", "bigint"), ("amount", "double")])])
    run_dbt(["build"], project.dbt_dir, hook.dbt_env())
    # as the ingest's staging step: `dbt parse`, keeping dbt's partial parsing state beside the manifest
    refresh_manifest(project.dbt_dir, hook.dbt_env(), project.config.dbt.target)
    return project, hook


def _log_since(log, start: int) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[start:]


def test_docs_generated_in_process_are_whole_and_leave_nothing_open(project):
    project, hook = project
    docs_dir = project.warehouse_path.parent / "serving" / "docs"
    log = project.dbt_dir / "logs" / "dbt.log"
    start = log.stat().st_size if log.exists() else 0
    before = dict(os.environ)
    cwd = os.getcwd()

    generate_docs(project.dbt_dir, hook.dbt_env(), docs_dir, target=project.config.dbt.target, key="k1",
                  run=run_dbt_in_process)

    manifest = json.loads((docs_dir / "manifest.json").read_text(encoding="utf-8"))
    mart = next(n for n in manifest["nodes"].values() if n["name"] == "order_totals")
    assert "from" in (mart.get("compiled_code") or "").lower(), "the docs' manifest has no compiled SQL"
    catalog = json.loads((docs_dir / "catalog.json").read_text(encoding="utf-8"))
    assert mart["unique_id"] in catalog["nodes"]
    assert {c.lower() for c in catalog["nodes"][mart["unique_id"]]["columns"]} == {"n", "total"}
    assert (docs_dir / ".dango_docs_key").read_text() == "k1"
    written = _log_since(log, start)
    assert "Unable to do partial parsing" not in written and "partial parsing" in written, written[-2000:]
    assert dict(os.environ) == before and os.getcwd() == cwd
    # dbt-duckdb's connection is closed: a connection with another configuration opens the file here
    con = duckdb.connect(str(project.warehouse_path), config={"threads": 1, "memory_limit": "256MB"})
    try:
        assert con.execute("select n from marts.order_totals").fetchone()[0] == 2
    finally:
        con.close()
    # and a second generate in the same process works (dbt's adapters were reset)
    generate_docs(project.dbt_dir, hook.dbt_env(), docs_dir, target=project.config.dbt.target, key="k2",
                  run=run_dbt_in_process)
    assert (docs_dir / ".dango_docs_key").read_text() == "k2"


def test_a_failing_generate_in_process_names_the_model_and_keeps_the_published_site(project):
    project, hook = project
    docs_dir = project.warehouse_path.parent / "serving" / "docs"
    generate_docs(project.dbt_dir, hook.dbt_env(), docs_dir, key="good", run=run_dbt_in_process)
    (project.dbt_dir / "models" / "marts" / "order_totals.sql").write_text(
        "select count(*) as n from {{ ref('no_such_model') }}\n")
    with pytest.raises(DbtRunError, match="order_totals"):
        generate_docs(project.dbt_dir, hook.dbt_env(), docs_dir, key="bad", run=run_dbt_in_process)
    assert (docs_dir / ".dango_docs_key").read_text() == "good"
    assert not list(docs_dir.parent.glob(".docs-*")), "temporary docs directories were left behind"
