"""A source that has never loaded does not stop the transform: `dango_transform` builds what is ready and
leaves out, by name, what depends on the missing source; with nothing ready it skips and says why.
Real Airflow (`airflow dags test`), dlt, DuckDB and dbt through Cosmos."""

from __future__ import annotations

import duckdb
import pytest

from tests.apiserver import overview_of
from tests.conftest import BIN, airflow_env, dags_test_in_one_process, make_small_project, run

pytestmark = pytest.mark.slow

SOURCES = """\
version: "1.0"
defaults: {retries: 0}
sources:
  - name: shop
    type: csv
    primary_key: order_id
    csv: {directory: data/shop}
  - name: crm
    type: csv
    primary_key: account_id
    csv: {directory: data/crm}
"""


def dags_test(dag_id: str, env: dict) -> str:
    proc = run([str(BIN / "airflow"), "dags", "test", dag_id], env)
    return proc.stdout + proc.stderr


def dags_test_in_turn(dag_ids: list[str], env: dict) -> str:
    proc = dags_test_in_one_process(dag_ids, env)
    return proc.stdout + proc.stderr


def tables(project) -> set[str]:
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return {f"{s}.{t}" for s, t in con.sql("select schema_name, table_name from duckdb_tables() union all "
                                               "select schema_name, view_name from duckdb_views() "
                                               "where not internal").fetchall()}
    finally:
        con.close()


def test_the_transform_builds_what_is_ready(tmp_path, airflow_home):
    project = make_small_project(tmp_path / "p", SOURCES, {
        "data/shop/orders.csv": "order_id,amount\n1,10.0\n2,20.0\n",
        "data/crm/accounts.csv": "account_id,name\n1,a\n",
        "dbt/models/marts/orders_count.sql": "select count(*) as n from {{ ref('stg_shop__shop') }}\n",
    })
    env = airflow_env(airflow_home, project)

    nothing = dags_test("dango_transform", env)
    assert "nothing to build: no source has loaded yet (shop, crm); the transform runs again when one loads" \
        in nothing
    overview, page = overview_of(project)
    assert overview["transform"]["skipped"].startswith("nothing to build: no source has loaded yet (shop, crm)")
    assert "<strong>Built nothing:</strong> nothing to build: no source has loaded yet (shop, crm)" in page

    built = dags_test_in_turn(["dango_ingest__shop", "dango_transform"], env)  # crm stays never loaded
    assert "source(s) not loaded yet, left out of this run: crm" in built
    assert {"staging.stg_shop__shop", "marts.orders_count"} <= tables(project)

    # a mart on crm before crm ever loaded: dbt could not parse the project; stand-ins let it, the run builds
    # what is ready and the mart on crm is left out by name
    (project / "dbt" / "models" / "marts" / "accounts_count.sql").write_text(
        "select count(*) as n from {{ ref('stg_crm__crm') }}\n")
    (project / "dbt" / "models" / "marts" / "raw_accounts.sql").write_text(
        "select count(*) as n from {{ source('raw_crm', 'accounts') }}\n")
    first = dags_test("dango_transform", env)  # rendered from the manifest before the new marts: builds the rest
    assert "models/marts/accounts_count.sql uses stg_crm__crm, of source(s) not loaded yet: left out until they " \
           "load" in first
    placeholder = project / "dbt" / "models" / "staging" / "crm" / "stg_crm__crm.sql"
    assert "placeholder" in placeholder.read_text().splitlines()[0]
    waiting = dags_test("dango_transform", env)  # rendered from the refreshed manifest: the marts are tasks
    assert "left out: accounts_count depends on source(s) not loaded yet: crm" in waiting
    assert "left out: raw_accounts depends on source(s) not loaded yet: crm" in waiting
    assert {"marts.accounts_count", "marts.raw_accounts", "staging.stg_crm__crm"}.isdisjoint(tables(project))
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.sql("select n from marts.orders_count").fetchone() == (2,)
    finally:
        con.close()
    (project / "dbt" / "models" / "marts" / "raw_accounts.sql").unlink()

    # crm loads; then its state says it never loaded (a warehouse rebuilt since): the mart on crm is left
    # out by name, the rest is built and published
    dags_test("dango_ingest__crm", env)
    assert "placeholder" not in placeholder.read_text()  # the generated model replaced the stand-in
    (project / ".dango" / "state" / "sources" / "crm" / "staging_ready.json").unlink()
    (project / "data" / "shop" / "more.csv").write_text("order_id,amount\n3,30.0\n")
    partial = dags_test_in_turn(["dango_ingest__shop", "dango_transform"], env)
    assert "left out: accounts_count (depends on crm, not loaded yet)" in partial
    assert "left out: accounts_count depends on source(s) not loaded yet: crm" in partial
    assert "marts.accounts_count" not in tables(project)
    overview, page = overview_of(project)
    left_out = {m["node"]: m["waits_for"] for m in overview["transform"]["left_out"]}
    assert {"accounts_count", "stg_crm__crm"} <= set(left_out) and set(map(tuple, left_out.values())) == {("crm",)}
    assert not any(node.startswith("stg_shop") or node == "orders_count" for node in left_out)
    assert overview["transform"]["skipped"] is None and overview["transform"]["run_id"].startswith("manual__")
    assert '<li><code>accounts_count</code> <span class="muted small">waits for crm</span></li>' in page
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.sql("select n from marts.orders_count").fetchone() == (3,)
    finally:
        con.close()
