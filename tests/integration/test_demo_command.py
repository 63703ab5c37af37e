"""README's main command, `bash scripts/demo.sh`, run as README says: it installs (already done here, so
quick), loads the demo's four CSV sources and builds its dbt project under `airflow dags test` (the five
DAGs in one process, `scripts/dags_test.py`), prints what it built and its own time, and leaves the
warehouse with the demo's marts. And `scripts/dags_test.py` stops at the first DAG run that fails."""

from __future__ import annotations

import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import BIN, airflow_env
from tests.integration.expected import demo_expectations

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_the_demo_command(tmp_path):
    demo = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    proc = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], cwd=REPO, capture_output=True, text=True,
                          timeout=1500, env={**env, "DANGO_DEMO_DIR": str(demo)})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = proc.stdout
    for dag_id in ("dango_ingest__customers", "dango_ingest__products", "dango_ingest__orders",
                   "dango_ingest__order_lines", "dango_transform"):
        assert f"== airflow dags test {dag_id}\n  {dag_id}: success in " in out
    assert re.search(r"^demo finished in \d+\.\d s \(after the install\): project in ", out, re.M), out[-2000:]

    expected = demo_expectations(demo / "project" / "include" / "data")
    con = duckdb.connect(str(demo / "project" / "data" / "warehouse.duckdb"), read_only=True)
    try:
        clv = dict(con.sql("select customer_id, lifetime_value from marts.customer_lifetime_value").fetchall())
    finally:
        con.close()
    assert {k: Decimal(str(v)).quantize(Decimal("0.01")) for k, v in clv.items()} == expected["lifetime_value"]
    assert "  top customers: [(" in out


FAILING_DAG = """
from datetime import datetime

from airflow.sdk import DAG
from airflow.providers.standard.operators.python import PythonOperator


def fail():
    raise ValueError("this task fails")


for dag_id, call in (("fails", fail), ("after", print)):
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        PythonOperator(task_id="only", python_callable=call)
    globals()[dag_id] = dag
"""


def test_dags_test_stops_at_the_first_failed_run(tmp_path, airflow_home):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "two.py").write_text(FAILING_DAG)
    env = airflow_env(airflow_home, AIRFLOW__CORE__DAGS_FOLDER=str(dags))
    proc = subprocess.run(f"{BIN / 'python'} {REPO / 'scripts' / 'dags_test.py'} after fails after 3>&1 >{tmp_path / 'log'} 2>&1",
                          shell=True, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == ["== airflow dags test after", proc.stdout.splitlines()[1],
                                        "== airflow dags test fails", "  fails: DagRun failed"]
    assert proc.stdout.splitlines()[1].startswith("  after: success in ")
    assert "ValueError: this task fails" in (tmp_path / "log").read_text()


def test_dags_test_names_a_dag_that_is_not_there(tmp_path, airflow_home):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "two.py").write_text(FAILING_DAG)
    env = airflow_env(airflow_home, AIRFLOW__CORE__DAGS_FOLDER=str(dags))
    proc = subprocess.run(f"{BIN / 'python'} {REPO / 'scripts' / 'dags_test.py'} aftr after 3>&1 >{tmp_path / 'log'} 2>&1",
                          shell=True, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "== airflow dags test aftr",
        "  aftr: Dag 'aftr' could not be found; either it does not exist or it failed to parse."]
