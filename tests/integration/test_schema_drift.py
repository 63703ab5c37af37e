"""Schema drift end to end: a breaking change blocks dango_transform until `dango drift accept`."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import BIN, airflow_env, make_small_project, run

pytestmark = pytest.mark.slow

SOURCES = """\
version: "1.0"
defaults: {retries: 0}
transform: {governance_timeout: 15s, poll_interval: 2s}
sources:
  - name: orders
    type: csv
    primary_key: order_id
    csv: {directory: data/orders}
"""


@pytest.fixture
def project(tmp_path):
    return make_small_project(tmp_path / "project", SOURCES, {
        "data/orders/orders_1.csv": "order_id,amount,note\n1,10,a\n2,20,b\n",
        "dbt/models/marts/order_totals.sql":
            "select count(*) as orders, sum(amount) as total from {{ ref('stg_orders__orders') }}\n",
    })


def _events(project):
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql("select column_name, kind, change_class, action, accepted_by from dango_meta.drift_events "
                       "order by column_name").fetchall()
    finally:
        con.close()


def test_breaking_change_blocks_transform_until_accepted(project, airflow_home):
    env = airflow_env(airflow_home, project)
    airflow = str(BIN / "airflow")
    run([airflow, "dags", "test", "dango_ingest__orders"], env)
    run([airflow, "dags", "test", "dango_transform"], env)

    # the delta drops `note` and adds `channel`: a removal (breaking) and an addition (additive)
    (project / "data" / "orders" / "orders_2.csv").write_text("order_id,amount,channel\n3,30,web\n")
    ingest = run([airflow, "dags", "test", "dango_ingest__orders"], env)
    assert "source 'orders' is blocked" in ingest.stdout + ingest.stderr
    assert _events(project) == [
        ("channel", "column_added", "additive", "evolve", "policy"),
        ("note", "column_removed", "breaking", "block", None),
    ]

    blocked = run([airflow, "dags", "test", "dango_transform"], env, check=False)
    log = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0
    assert "breaking schema changes were not accepted in time (source 'orders':" in log
    assert "'orders.note'" in log

    accepted = run([str(BIN / "dango"), "drift", "accept", "orders", "--project", str(project), "--by", "ana"], env)
    assert "accepted 1 schema change event(s) of source 'orders' as ana" in accepted.stdout
    assert _events(project)[1][4] == "ana"
    released = run([airflow, "dags", "test", "dango_transform"], env)
    assert "no source is blocked by schema drift" in released.stdout + released.stderr
    # the audit trail in the task log: who accepted what
    assert "source 'orders': schema changes accepted by ana at " in released.stdout + released.stderr
    again = run([str(BIN / "dango"), "drift", "accept", "orders", "--project", str(project)], env)
    assert "has no schema change waiting for acceptance" in again.stdout

    # the additive change evolved: the new column is in the regenerated staging model
    model = (project / "dbt" / "models" / "staging" / "orders" / "stg_orders__orders.sql").read_text()
    assert '"channel" as "channel"' in model
