"""The demo project end to end with `airflow dags test`: dlt into DuckDB, staging, Cosmos dbt build.

Round one loads only the first file of each source; round two adds the delta files. In between, a
re-run with unchanged files loads nothing. Values are checked against figures computed from the CSVs.
Each round's five DAGs run through Airflow's own `dags test` command in one process
(`scripts/dags_test.py`, as README's demo runs them); the no-op re-run is a separate `airflow dags test`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import BIN, airflow_env, dags_test_in_one_process, make_demo_project, run
from tests.deployment import NETAUDIT, TELEMETRY_SWITCHES
from tests.integration.expected import KEYS, demo_expectations

pytestmark = pytest.mark.slow


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
query = "select count(*) from marts.customer_lifetime_value"
print(con.execute(query).fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute(query).fetchone()[0], flush=True)
"""


def _dags_test(dag_id: str, env: dict):
    return run([str(BIN / "airflow"), "dags", "test", dag_id], env)


def _round(env: dict):
    """The four ingests, then the transform, in one process."""
    return dags_test_in_one_process([f"dango_ingest__{source}" for source in KEYS] + ["dango_transform"], env)


def _query(warehouse: Path, sql: str):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, airflow_home):
    base = tmp_path_factory.mktemp("demo")
    project = make_demo_project(base / "project")
    data = project / "include" / "data"
    held_back = base / "held_back"
    for source in KEYS:
        (held_back / source).mkdir(parents=True)
        shutil.move(str(data / source / f"{source}_2.csv"), held_back / source)
    # as a deployment runs it: no telemetry switches in the environment, every process network-audited
    audit = base / "network_audit.log"
    env = {k: v for k, v in airflow_env(airflow_home, project).items() if k not in TELEMETRY_SWITCHES}
    env.update(PYTHONPATH=str(NETAUDIT), DANGO_NET_AUDIT_LOG=str(audit))
    warehouse = project / "data" / "warehouse.duckdb"
    state: dict = {"project": project, "warehouse": warehouse, "env": env, "audit": audit}

    _round(env)
    state["round1"] = {
        "expected": demo_expectations(data),
        "raw": {s: _query(warehouse, f"select count(*) from raw_{s}.{s}")[0][0] for s in KEYS},
        "clv": dict(_query(warehouse, "select customer_id, lifetime_value from marts.customer_lifetime_value")),
    }
    noop = _dags_test("dango_ingest__orders", env)
    state["noop_log"] = noop.stdout + noop.stderr
    state["loads_after_noop"] = _query(warehouse, "select count(*) from dango_meta.load_history")[0][0]

    # a reader holds the serving copy open across the whole second round of ingest and transform
    serving = project / "data" / "serving" / "warehouse.duckdb"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(serving)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    state["reader_before"] = reader.stdout.readline().strip()
    for source in KEYS:
        shutil.move(str(held_back / source / f"{source}_2.csv"), data / source)
    round2 = _round(env)
    reader.stdin.write("\n")
    reader.stdin.flush()
    state["reader_after"] = reader.stdout.readline().strip()
    reader.wait(timeout=60)
    state["round2_log"] = round2.stdout + round2.stderr
    state["serving_customers"] = _query(serving, "select count(*) from marts.customer_lifetime_value")[0][0]
    state["expected"] = demo_expectations(data)
    return state


def test_no_process_reaches_beyond_this_machine(demo):
    """Ingests and transforms (Airflow, task runners, dbt) ran without telemetry switches in their
    environment: nothing looked up or connected to any address but loopback."""
    lines = demo["audit"].read_text().splitlines()
    armed = [line for line in lines if line.startswith("armed")]
    assert [line for line in lines if line.startswith("refused")] == []
    # dbt parses, builds and generates docs inside the processes that ran the DAGs: both were audited
    assert any("dags_test.py" in line for line in armed), armed[:5]
    assert any("airflow dags" in line for line in armed), armed[:5]


def test_first_round_loads_first_files(demo):
    round1 = demo["round1"]
    assert round1["raw"] == round1["expected"]["counts"]
    assert {k: Decimal(str(v)).quantize(Decimal("0.01")) for k, v in round1["clv"].items()} == round1["expected"]["lifetime_value"]


def test_unchanged_files_load_nothing(demo):
    assert "none new or changed" in demo["noop_log"]
    # the extract skips the rest of its run itself, not one scheduler loop per task
    assert "nothing to load: generate_staging, load, pii_scan, schema_drift skipped with this task" in demo["noop_log"]
    assert demo["loads_after_noop"] == len(KEYS)  # one history row per source from round one only


def test_delta_files_upsert_without_duplicates(demo):
    warehouse, expected = demo["warehouse"], demo["expected"]
    for source, key in KEYS.items():
        total, distinct = _query(warehouse, f"select count(*), count(distinct {key}) from raw_{source}.{source}")[0]
        assert total == distinct == expected["counts"][source], source
        staged = _query(warehouse, f"select count(*) from staging.stg_{source}__{source}")[0][0]
        assert staged == expected["counts"][source]
    # the delta file was the only one read in round two
    files = _query(warehouse, "select files from dango_meta.load_history order by finished_at")
    assert [f[0] for f in files][-len(KEYS):] == [1] * len(KEYS)
    # an updated key carries the delta's value
    email = _query(warehouse, "select email from staging.stg_customers__customers where customer_id = 5")[0][0]
    assert email.endswith("@mail.example.org")


def test_marts_match_figures_computed_from_the_csv_files(demo):
    warehouse, expected = demo["warehouse"], demo["expected"]
    rows = _query(warehouse, "select customer_id, order_count, lifetime_value from marts.customer_lifetime_value")
    assert len(rows) == expected["counts"]["customers"]
    assert {r[0]: r[1] for r in rows} == expected["order_count"]
    assert {r[0]: Decimal(str(r[2])).quantize(Decimal("0.01")) for r in rows} == expected["lifetime_value"]
    daily_rows, revenue = _query(warehouse, "select count(*), sum(revenue) from marts.fct_daily_sales")[0]
    assert daily_rows == expected["daily_rows"]
    assert Decimal(str(round(revenue, 2))) == expected["total_revenue"]


def test_snapshot_tracks_price_changes_across_rounds(demo):
    changed = _query(demo["warehouse"], "select product_id from marts.dim_products where price_changes > 0 order by 1")
    assert [r[0] for r in changed] == [2, 5, 9, 12, 13]


def test_transform_rendered_per_model_tasks_in_the_pool(demo):
    log = demo["round2_log"]
    assert "dbt.customer_lifetime_value_model_build" in log  # one dbt build of the model and its tests
    assert "dbt_build" in log


def test_reader_of_the_serving_copy_never_blocks_writes(demo):
    # the reader kept its consistent copy while round two loaded, transformed and published
    assert demo["reader_before"] == demo["reader_after"] == str(demo["round1"]["expected"]["counts"]["customers"])
    assert "Could not set lock" not in demo["round2_log"]
    assert demo["serving_customers"] == demo["expected"]["counts"]["customers"]


def test_dbt_docs_are_published_beside_the_serving_copy(demo):
    import json

    docs = demo["project"] / "data" / "serving" / "docs"
    assert "dbt" in (docs / "index.html").read_text(encoding="utf-8")[:20000].lower()
    catalog = json.loads((docs / "catalog.json").read_text(encoding="utf-8"))
    manifest = json.loads((docs / "manifest.json").read_text(encoding="utf-8"))
    assert "model.dango_demo.customer_lifetime_value" in catalog["nodes"]
    assert "model.dango_demo.customer_lifetime_value" in manifest["nodes"]
    assert not list(docs.parent.glob(".docs-*")), "temporary docs directories were left behind"
