"""dango_transform under `airflow dags test` on a small project: a failing dbt test fails the run."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import BIN, airflow_env, run

pytestmark = pytest.mark.slow

SOURCES = """\
version: "1.0"
defaults: {retries: 0}
sources:
  - name: payments
    type: csv
    primary_key: payment_id
    csv: {directory: data/payments}
"""


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    run([str(BIN / "dango"), "init", str(root), "--no-pool"], {})
    (root / "sources.yml").write_text(SOURCES)
    (root / "data" / "payments").mkdir(parents=True)
    (root / "data" / "payments" / "p1.csv").write_text("payment_id,amount\n1,5.0\n2,-3.0\n3,7.5\n")
    (root / "dbt" / "models" / "marts" / "payment_totals.sql").write_text(
        "select count(*) as payments, sum(amount) as total from {{ ref('stg_payments__payments') }}\n")
    return root


def test_ingest_emits_the_asset_with_row_counts_and_transform_builds(project, airflow_home):
    env = airflow_env(airflow_home, project)
    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__payments"], env)
    con = sqlite3.connect(airflow_home / "airflow.db")
    try:
        extras = [json.loads(e) for (e,) in con.execute(
            "select e.extra from asset_event e join asset a on a.id = e.asset_id where a.name = 'raw_payments'")]
    finally:
        con.close()
    assert extras and extras[-1]["row_counts"] == {"payments": 3}
    assert extras[-1]["source"] == "payments"
    run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env)


def test_failing_dbt_test_fails_the_transform(project, airflow_home):
    env = airflow_env(airflow_home, project)
    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__payments"], env)
    (project / "dbt" / "tests" / "no_negative_amounts.sql").write_text(
        "select * from {{ ref('stg_payments__payments') }} where amount < 0\n")
    proc = run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "FAIL 1 no_negative_amounts" in log or "Failure in test no_negative_amounts" in log
    assert "state=failed" in log
