"""A project whose warehouse is a DuckLake (catalog on the test PostgreSQL server, Parquet under the
project): `dango validate` reports the catalog connection; `airflow dags test` of the ingest and of
`dango_transform` loads, builds the staging model and a
mart in the lake, and publishes the serving copy; the catalog's password is in no task log."""

from __future__ import annotations

import secrets

import duckdb
import pytest

from dango_provider.hooks.ducklake import DuckLakeHook
from tests import pg
from tests.conftest import BIN, airflow_env, make_small_project, run

pytestmark = pytest.mark.slow

PASSWORD = "lk" + secrets.token_hex(10)
SOURCES = """\
version: "1.0"
warehouse:
  type: ducklake
  catalog: lake_catalog
  data_path: data/lake
defaults: {retries: 0}
sources:
  - name: shop
    type: csv
    primary_key: order_id
    csv: {directory: data/shop}
"""


def test_ingest_and_transform_into_the_lake(tmp_path, airflow_home, monkeypatch):
    with pg.temporary_database("dango_lake_e2e") as database:
        catalog = pg.url(database, password=PASSWORD)
        monkeypatch.setenv("AIRFLOW_CONN_LAKE_CATALOG", catalog)
        project = make_small_project(tmp_path / "p", SOURCES, {
            "data/shop/orders.csv": "order_id,amount\n1,10.0\n2,20.0\n3,5.5\n",
            "dbt/models/marts/order_total.sql": "select count(*) as orders, sum(amount) as total "
                                                "from {{ ref('stg_shop__shop') }}\n",
        })
        env = airflow_env(airflow_home, project, AIRFLOW_CONN_LAKE_CATALOG=catalog)
        validate = run([str(BIN / "dango"), "validate", str(project)], env).stdout
        assert "credentials: warehouse: Airflow connection lake_catalog (DuckLake catalog): defined" in validate
        assert PASSWORD not in validate
        unset = {k: v for k, v in env.items() if k != "AIRFLOW_CONN_LAKE_CATALOG"}
        assert "Airflow connection lake_catalog (DuckLake catalog): not defined" in \
            run([str(BIN / "dango"), "validate", str(project)], unset).stdout
        logs = ""
        for dag_id in ("dango_ingest__shop", "dango_transform"):
            proc = run([str(BIN / "airflow"), "dags", "test", dag_id], env)
            logs += proc.stdout + proc.stderr
        lake = DuckLakeHook("lake_catalog", project / "data" / "lake")
        con = lake.connect(read_only=True)
        try:
            assert con.execute("select count(*), count(distinct order_id) from raw_shop.shop").fetchone() == (3, 3)
            assert con.execute("select orders, total from marts.order_total").fetchone() == (3, 35.5)
        finally:
            con.close()
        assert list((project / "data" / "lake").rglob("*.parquet"))
        assert not (project / "data" / "warehouse.duckdb").exists(), "nothing was written to a DuckDB file"
        serving = duckdb.connect(str(project / "data" / "serving" / "warehouse.duckdb"), read_only=True)
        try:
            assert serving.execute("select orders from marts.order_total").fetchone() == (3,)
        finally:
            serving.close()
        assert PASSWORD not in logs
        for log in (airflow_home / "logs").rglob("*"):
            if log.is_file():
                assert PASSWORD not in log.read_text(errors="replace"), log
