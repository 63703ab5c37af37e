"""A failed ingest says so where people look: one actionable line before the traceback in the task log,
and `dango status` reports `failed` with that line, the task and the run until a load succeeds.
Real Airflow (`airflow dags test`), dlt and DuckDB."""

from __future__ import annotations

import json

import pytest
from markupsafe import escape

from tests.apiserver import overview_of
from tests.conftest import BIN, airflow_env, make_small_project, run

pytestmark = pytest.mark.slow

SOURCES = """\
version: "1.0"
defaults: {retries: 0}
sources:
  - name: orders
    type: csv
    primary_key: order_id
    csv: {directory: data/orders}
"""


def status(project, env) -> dict:
    proc = run([str(BIN / "dango"), "status", "--project", str(project), "--json"], env)
    return {s["name"]: s for s in json.loads(proc.stdout)["sources"]}


def test_a_failed_load_is_reported_until_a_load_succeeds(tmp_path, airflow_home):
    project = make_small_project(tmp_path / "p", SOURCES, {"data/orders/a.csv": "order_id,amount\n1,10.0\n"})
    env = airflow_env(airflow_home, project)
    ingest = [str(BIN / "airflow"), "dags", "test", "dango_ingest__orders"]
    run(ingest, env)
    assert status(project, env)["orders"]["state"] == "ok"

    bad = project / "data" / "orders" / "b.csv"
    bad.write_text("order_id,amount\n2,20.0\n3,30.0,x\n")
    failed = run(ingest, env, check=False)
    log = failed.stdout + failed.stderr
    assert failed.returncode != 0
    message = f"source 'orders': {bad}:3: ragged row: expected 2 fields like the header, found 3"
    assert message in log
    assert log.index(message) < log.index("Traceback"), "the actionable line comes before the traceback"
    state = status(project, env)["orders"]["state"]
    assert state.startswith(f"failed: {message}")
    assert "(dango_ingest__orders.extract run manual__" in state
    overview, page = overview_of(project)
    orders = overview["sources"][0]
    assert orders["status"] == "failed" and orders["failure"]["error"].startswith(message)
    assert orders["failure"]["log_url"].startswith("http://localhost:8080/dags/dango_ingest__orders/runs/manual__")
    assert "/tasks/extract" in orders["failure"]["log_url"]
    assert '<span class="badge failed">failed</span>' in page
    assert f'<pre class="error-line">{escape(message)}' in page and 'class="log-link"' in page

    bad.write_text("order_id,amount\n2,20.0\n3,30.0\n")
    run(ingest, env)
    assert status(project, env)["orders"]["state"] == "ok"
    assert overview_of(project)[0]["sources"][0]["failure"] is None
