"""A column's type changing between loads is schema drift, not a wedged source: the load keeps the rows
(the new values in a variant column), the change is classified as breaking and the drift policy
applies; after `dango drift accept` later loads go through. Real Airflow (`airflow dags test`), dlt,
DuckDB."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.conftest import BIN, airflow_env, make_small_project, run

pytestmark = pytest.mark.slow

SOURCES = """\
version: "1.0"
defaults: {retries: 0}
sources:
  - name: orders
    type: csv
    primary_key: id
    csv: {directory: data/orders}
"""


def rows(project) -> list[tuple]:
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql("select id, amount, amount_v_text from raw_orders.orders order by id").fetchall()
    finally:
        con.close()


def test_a_number_column_receiving_text_is_a_breaking_change_not_a_failed_load(tmp_path, airflow_home):
    project = make_small_project(tmp_path / "p", SOURCES, {"data/orders/a.csv": "id,amount\n1,10.5\n2,20\n"})
    env = airflow_env(airflow_home, project)
    ingest = [str(BIN / "airflow"), "dags", "test", "dango_ingest__orders"]
    run(ingest, env)

    (project / "data" / "orders" / "b.csv").write_text("id,amount\n3,EUR 498.33\n")
    second = run(ingest, env)
    log = second.stdout + second.stderr
    assert "data/orders/b.csv: column amount holds 'EUR 498.33' where earlier loads stored double: a breaking " \
           "type change. The rows are kept; such values go to column amount_v_text" in log
    assert "Column 'orders.amount' changed type from DOUBLE to VARCHAR" in log
    assert rows(project) == [(1, 10.5, None), (2, 20.0, None), (3, None, "EUR 498.33")]
    blocked = json.loads((project / ".dango" / "state" / "sources" / "orders" / "drift_blocked.json").read_text())
    assert [(c["column"], c["kind"], c["change_class"]) for c in blocked["changes"]] == [
        ("amount", "type_changed", "breaking")]

    accepted = run([str(BIN / "dango"), "drift", "accept", "orders", "--project", str(project), "--by", "ann"], env)
    assert "accepted 1 schema change event(s) of source 'orders' as ann" in accepted.stdout

    (project / "data" / "orders" / "c.csv").write_text("id,amount\n4,40\n")  # numbers again: text holds them
    third = run(ingest, env)
    assert "schema drift (" not in third.stdout + third.stderr
    assert not (project / ".dango" / "state" / "sources" / "orders" / "drift_blocked.json").exists()
    assert rows(project)[-1] == (4, 40.0, None)
