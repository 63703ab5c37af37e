"""The overview's data and page, from a real sources.yml, real state files and a real serving copy."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from dango_provider.config.loader import load_project
from dango_provider.core import governance_meta
from dango_provider.core.governance_state import block_for_drift, mark_ready
from dango_provider.core.load_history import LoadRecord, record_loads
from dango_provider.core.naming import Naming
from dango_provider.core.snapshot import publish, serving_path
from dango_provider.core.transform_results import record
from dango_provider.plugins.chart import rows_per_run_svg
from dango_provider.plugins.overview import (
    BLOCKED,
    NEVER_LOADED,
    collect_overview,
    config_error_overview,
    credential_names,
    duration_text,
    freshness,
    jsonable,
)
from dango_provider.plugins.rendering import render

SOURCES = """\
defaults: {freshness: {warn_after: 6h, error_after: 1d}}
sources:
  - name: orders
    type: csv
    schedule: "0 6 * * *"
    primary_key: order_id
    description: "Orders <b>from</b> the shop"
    csv: {directory: data/orders}
  - name: customers
    type: csv
    freshness: {warn_after: 1h}
    csv: {directory: data/customers}
  - name: api
    type: rest_api
    rest_api:
      base_url: https://api.example.com/v1
      conn_id: example_api
      auth: {type: bearer, token_env: EXAMPLE_TOKEN}
      resources: [items]
  - name: replica
    type: sql_database
    enabled: false
    sql_database: {credentials_env: REPLICA_URL, schema: public}
"""

T0 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)


def state_dir(root: Path, source: str) -> Path:
    return Naming.state_dir(root) / "sources" / source


def load(source: str, table: str, rows: int, finished: datetime, seconds: float) -> LoadRecord:
    return LoadRecord(source=source, table_name=table, rows=rows, load_id=finished.isoformat(), files=1,
                      started_at=finished - timedelta(seconds=seconds), finished_at=finished)


def write_warehouse(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        record_loads(con, [
            load("orders", "orders", 3, T0, 2.0),
            load("orders", "orders", 2, T0 + timedelta(hours=1), 4.0),
            load("orders", "order_items", 5, T0 + timedelta(hours=1), 4.0),
            load("customers", "customers", 10, T0 + timedelta(minutes=30), 1.5),
        ])
        con.execute("""
            CREATE SCHEMA raw_orders;
            CREATE TABLE raw_orders.orders AS SELECT range AS order_id FROM range(4);
            CREATE TABLE raw_orders.order_items AS SELECT range AS id FROM range(9);
            CREATE TABLE raw_orders._dlt_loads (load_id VARCHAR);
            CREATE SCHEMA raw_orders_staging;
            CREATE TABLE raw_orders_staging.orders (order_id BIGINT);
            CREATE SCHEMA staging;
            CREATE VIEW staging.stg_orders__orders AS SELECT * FROM raw_orders.orders;
        """)
        governance_meta.ensure(con)
        change = {"table": "customers", "column": "name", "kind": "column_removed", "change_class": "breaking",
                  "old": "VARCHAR", "new": None, "detail": "Column 'customers.name' (VARCHAR) was removed",
                  "action": "block"}
        governance_meta.record_drift(con, "customers", [change], "manual__1")
        governance_meta.record_drift(con, "orders", [{**change, "table": "orders", "column": "note"}], "manual__1")
        governance_meta.record_pii(con, "customers", [
            {"table": "customers", "column": "email", "entity": "PERSON", "score": 0.4, "action": "report"}], "r1")
        governance_meta.record_pii(con, "customers", [
            {"table": "customers", "column": "email", "entity": "EMAIL_ADDRESS", "score": 0.99, "action": "mask"},
            {"table": "customers", "column": "phone", "entity": "PHONE_NUMBER", "score": 0.8, "action": "mask"}], "r2")
    finally:
        con.close()


@pytest.fixture
def project(project_dir: Path, write_sources):
    write_sources(SOURCES)
    return load_project(project_dir)


@pytest.fixture
def served(project):
    write_warehouse(project.warehouse_path)
    publish(project.warehouse_path, serving_path(project.warehouse_path))
    return project


def by_name(overview: dict) -> dict[str, dict]:
    return {s["name"]: s for s in overview["sources"]}


# --- pure helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(("age", "expected"), [
    (timedelta(minutes=5), "fresh"), (timedelta(hours=7), "warn"), (timedelta(days=2), "error"), (None, "error"),
])
def test_freshness_follows_the_sensor_rule(age, expected):
    now = T0 + timedelta(days=10)
    result = freshness(None if age is None else now - age, timedelta(hours=6), timedelta(days=1), now)
    assert result["status"] == expected
    assert (result["warn_after"], result["error_after"]) == ("6h", "1d")


def test_freshness_without_thresholds_is_not_checked_and_warn_only_never_errors():
    assert freshness(T0, None, None, T0 + timedelta(days=99))["status"] == "not checked"
    assert freshness(T0, timedelta(hours=1), None, T0 + timedelta(days=99))["status"] == "warn"


@pytest.mark.parametrize(("value", "text"), [
    (timedelta(hours=6), "6h"), (timedelta(days=1), "1d"), (timedelta(weeks=2), "2w"), (5400, "90m"), (45, "45s"),
    (None, None),
])
def test_duration_text(value, text):
    assert duration_text(value) == text


def test_credentials_are_named_never_looked_up(project, monkeypatch):
    monkeypatch.setenv("EXAMPLE_TOKEN", "tok-0123456789-secret")
    monkeypatch.setenv("AIRFLOW_CONN_EXAMPLE_API", "http://u:pw-0123456789-secret@api.example.com")
    assert credential_names(project.source("api").options) == [
        {"kind": "connection", "name": "example_api"}, {"kind": "env", "name": "EXAMPLE_TOKEN"}]
    assert credential_names(project.source("replica").options) == [{"kind": "env", "name": "REPLICA_URL"}]
    assert credential_names(project.source("orders").options) == []
    page = json.dumps(jsonable(collect_overview(project)))
    assert "EXAMPLE_TOKEN" in page and "example_api" in page
    assert "secret" not in page


# --- the overview of a project --------------------------------------------------------------------


def test_last_load_rows_and_duration_come_from_the_serving_copy(served):
    sources = by_name(collect_overview(served, now=T0 + timedelta(hours=2)))

    orders = sources["orders"]
    assert orders["last_load"] == {"at": T0 + timedelta(hours=1), "rows": 7, "duration_s": 4.0,
                                   "tables": {"order_items": 5, "orders": 2}, "run_id": None, "from": "serving copy"}
    assert [(x["at"], x["rows"]) for x in orders["loads"]] == [(T0, 3), (T0 + timedelta(hours=1), 7)]
    assert orders["schedule"] == "0 6 * * *" and orders["type"] == "csv"
    assert orders["dag_id"] == "dango_ingest__orders" and orders["dag_url"] == "/dags/dango_ingest__orders"
    assert orders["status"] == "loaded"
    assert orders["freshness"]["status"] == "fresh"
    assert sources["customers"]["freshness"] == {"status": "warn", "age_s": 5400.0, "warn_after": "1h",
                                                 "error_after": "1d"}
    assert sources["api"]["last_load"] is None and sources["api"]["status"] == NEVER_LOADED
    assert sources["api"]["freshness"]["status"] == "error"
    assert sources["replica"]["enabled"] is False


def test_a_load_after_the_last_publish_comes_from_the_state_file(served):
    later = T0 + timedelta(hours=3)
    mark_ready(state_dir(served.root, "orders"), {"loaded_at": later.isoformat()})
    mark_ready(state_dir(served.root, "customers"), {"loaded_at": (T0 - timedelta(days=1)).isoformat()})
    sources = by_name(collect_overview(served, now=later))
    assert sources["orders"]["last_load"] == {"at": later, "rows": None, "duration_s": None, "tables": {},
                                              "from": "state"}
    # an older state file does not hide the serving copy's newer load
    assert sources["customers"]["last_load"]["rows"] == 10


def test_open_drift_shows_while_the_source_is_blocked(served):
    change = {"table": "customers", "column": "name", "kind": "column_removed", "change_class": "breaking",
              "detail": "Column 'customers.name' (VARCHAR) was removed"}
    block_for_drift(state_dir(served.root, "customers"), [change], {})
    sources = by_name(collect_overview(served))

    customers = sources["customers"]
    assert customers["status"] == BLOCKED and customers["drift"]["blocked"] is True
    assert [(e["table"], e["column"], e["kind"], e["action"]) for e in customers["drift"]["open"]] == [
        ("customers", "name", "column_removed", "block")]
    assert customers["drift"]["open"][0]["detected_at"] is not None  # the serving copy's event
    # orders has an unaccepted event in the serving copy, but no block: it was accepted since
    assert sources["orders"]["drift"] == {"blocked": False, "open": []}


def test_a_block_newer_than_the_serving_copy_shows_the_state_files_changes(project):
    change = {"table": "customers", "column": "id", "kind": "type_narrowed", "change_class": "breaking",
              "detail": "Column 'customers.id' changed BIGINT -> INTEGER"}
    block_for_drift(state_dir(project.root, "customers"), [change], {})
    customers = by_name(collect_overview(project))["customers"]
    assert [(e["column"], e["kind"], e["detail"]) for e in customers["drift"]["open"]] == [
        ("id", "type_narrowed", "Column 'customers.id' changed BIGINT -> INTEGER")]


def test_pii_findings_are_the_latest_per_column(served):
    pii = by_name(collect_overview(served))["customers"]["pii"]
    assert [(f["table"], f["column"], f["entity"], f["action"]) for f in pii] == [
        ("customers", "email", "EMAIL_ADDRESS", "mask"), ("customers", "phone", "PHONE_NUMBER", "mask")]


def test_last_run_state_from_airflow_is_the_status_unless_blocked(served):
    runs = {"dango_ingest__orders": {"run_id": "manual__1", "state": "failed", "start_date": T0, "end_date": T0},
            "dango_ingest__customers": {"run_id": "manual__2", "state": "success", "start_date": T0,
                                        "end_date": T0}}
    block_for_drift(state_dir(served.root, "customers"), [{"table": "customers"}], {})
    sources = by_name(collect_overview(served, last_runs=runs, airflow_root="/airflow"))
    assert sources["orders"]["status"] == "failed"
    assert sources["orders"]["last_run"]["run_id"] == "manual__1"
    assert sources["customers"]["status"] == BLOCKED
    assert sources["orders"]["dag_url"] == "/airflow/dags/dango_ingest__orders"


def test_warehouse_tables_with_row_counts(served):
    overview = collect_overview(served)
    schemas = {s["name"]: {t["name"]: (t["kind"], t["rows"]) for t in s["tables"]} for s in overview["schemas"]}
    assert schemas["raw_orders"] == {"order_items": ("table", 9), "orders": ("table", 4)}
    assert schemas["staging"] == {"stg_orders__orders": ("view", None)}
    assert schemas["dango_meta"]["load_history"] == ("table", 4)
    assert "raw_orders_staging" not in schemas  # dlt's staging dataset of replace loads
    assert overview["serving_copy"]["exists"] is True and overview["serving_copy"]["error"] is None


def test_without_a_serving_copy_the_overview_says_so(project):
    mark_ready(state_dir(project.root, "orders"), {"loaded_at": T0.isoformat()})
    overview = collect_overview(project, now=T0 + timedelta(hours=7))
    assert overview["serving_copy"]["exists"] is False
    assert overview["schemas"] == []
    orders = by_name(overview)["orders"]
    assert orders["last_load"]["at"] == T0 and orders["last_load"]["rows"] is None
    assert orders["freshness"]["status"] == "warn"

    page = render("overview.html", ov=overview, chart=rows_per_run_svg({}), links={}, framed=False)
    assert 'id="no-serving-copy"' in page and "No serving copy yet" in page
    assert "Tables appear here once the serving copy is published" in page


def test_an_unreadable_serving_copy_is_reported_and_the_page_still_renders(project):
    target = serving_path(project.warehouse_path)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a duckdb file" * 100)
    overview = collect_overview(project)
    assert overview["serving_copy"]["exists"] is True
    assert overview["serving_copy"]["error"]
    assert [s["name"] for s in overview["sources"]] == ["orders", "customers", "api", "replica"]
    page = render("overview.html", ov=overview, chart=rows_per_run_svg({}), links={}, framed=False)
    assert 'id="serving-copy-error"' in page


def test_json_has_iso_times(served):
    data = jsonable(collect_overview(served, now=T0))
    assert data["generated_at"] == T0.isoformat()
    assert by_name(data)["orders"]["last_load"]["at"] == (T0 + timedelta(hours=1)).isoformat()
    json.dumps(data)


# --- the page ---------------------------------------------------------------------------------


def render_overview(overview: dict, framed: bool = False) -> str:
    chart = rows_per_run_svg({s["name"]: [(str(x["at"]), x["rows"]) for x in s["loads"]] for s in overview["sources"]})
    links = {"docs": "/dango/docs/", "api": "/dango/api/overview", "dags": "/dags", "metabase": "http://bi:3000/"}
    return render("overview.html", ov=overview, chart=chart, links=links, framed=framed)


def test_page_lists_sources_tables_and_governance(served):
    block_for_drift(state_dir(served.root, "customers"), [{"table": "customers"}], {})
    page = render_overview(collect_overview(served, now=T0 + timedelta(hours=2)))

    for name in ("orders", "customers", "api", "replica"):
        assert f'id="source-{name}"' in page
    assert '<a class="small dag-link" href="/dags/dango_ingest__orders">' in page
    assert "Orders &lt;b&gt;from&lt;/b&gt; the shop" in page  # user text is escaped
    assert 'data-table="raw_orders.order_items"' in page
    assert "1 schema change waiting" in page and "2 PII columns" in page
    assert "dango drift accept customers" in page
    assert "connection <code>example_api</code>" in page and "env <code>EXAMPLE_TOKEN</code>" in page
    assert page.count('class="bar"') == 3  # orders twice, customers once
    assert 'href="http://bi:3000/"' in page


def test_framed_page_has_no_links_out_of_the_frame(served):
    page = render_overview(collect_overview(served), framed=True)
    assert "dag-link" not in page and 'href="/dags"' not in page and "http://bi:3000/" not in page
    assert '<span class="small muted dag-id">dango_ingest__orders</span>' in page


def test_config_error_page():
    page = render("overview.html", ov=config_error_overview("sources.yml:3: sources[0].type: unknown", "sources.yml"),
                  chart="", links={}, framed=False)
    assert 'id="config-error"' in page and "sources.yml:3: sources[0].type: unknown" in page


def test_transform_section_shows_dbt_results_failures_first_and_earlier_runs(project):
    state_root = Naming.state_dir(project.root)
    ok = {"results": [{"unique_id": "model.shop.orders_daily", "status": "success", "execution_time": 0.4,
                       "adapter_response": {"rows_affected": 12}}]}
    record(state_root, "manual__1", ok, task_id="dbt.orders_daily_model_build")
    failed = {"results": [
        {"unique_id": "model.shop.orders_daily", "status": "success", "execution_time": 0.5,
         "adapter_response": {"rows_affected": 14}},
        {"unique_id": "test.shop.no_negative_<b>amounts</b>", "status": "fail", "execution_time": 0.1, "failures": 2,
         "message": "Got 2 results, configured to fail if != 0",
         "compiled_code": "select * from x where amount < 0 -- {{ 7 * 7 }}"}]}
    time.sleep(0.01)  # the second run is the newer one
    record(state_root, "manual__2", failed, task_id="dbt.orders_daily_model_build")

    overview = collect_overview(project)
    runs = overview["transform"]["runs"]
    assert [r["run_id"] for r in runs] == ["manual__2", "manual__1"]
    page = render_overview(overview)
    nodes = page[page.index('id="transform-nodes"'):page.index('id="transform-runs"')]
    assert nodes.index("no_negative_&lt;b&gt;amounts&lt;/b&gt;") < nodes.index("orders_daily")
    assert '<pre class="error-line">Got 2 results, configured to fail if != 0</pre>' in nodes
    assert "<pre>select * from x where amount &lt; 0 -- {{ 7 * 7 }}</pre>" in nodes  # literal, escaped
    assert '<td class="num">14</td>' in nodes
    earlier = page[page.index('id="transform-runs"'):]
    assert "manual__1" in earlier and '<span class="badge success">1 success</span>' in earlier


def test_recent_loads_newest_first_across_sources_in_a_table(served):
    overview = collect_overview(served, now=T0 + timedelta(hours=2))
    recent = [(x["source"], x["at"], x["rows"]) for x in overview["recent_loads"]]
    assert recent[0] == ("orders", T0 + timedelta(hours=1), 7)
    assert [x[1] for x in recent] == sorted((x[1] for x in recent), reverse=True)
    assert {x[0] for x in recent} == {"orders", "customers"}
    page = render_overview(overview)
    table = page[page.index('id="recent-loads"'):]
    assert table.index('data-source="orders"') < table.index("</table>")
    assert '<td class="num">4.0</td>' in table  # orders' last load took 4 s


def test_recent_runs_show_each_runs_state_and_the_rows_its_load_wrote(project):
    project.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(project.warehouse_path))
    record_loads(con, [LoadRecord("orders", "orders", 5, "l1", 1, T0, T0 + timedelta(seconds=2), run_id="manual__a")])
    con.close()
    publish(project.warehouse_path, serving_path(project.warehouse_path))
    history = [
        {"dag_id": "dango_ingest__orders", "run_id": "manual__b", "state": "failed", "start_date": T0 + timedelta(hours=1),
         "end_date": T0 + timedelta(hours=1, seconds=9)},
        {"dag_id": "dango_ingest__orders", "run_id": "manual__a", "state": "success", "start_date": T0,
         "end_date": T0 + timedelta(seconds=12)},
    ]
    overview = collect_overview(project, run_history=history, now=T0 + timedelta(hours=2))
    assert [(r["source"], r["state"], r["rows"], r["seconds"]) for r in overview["recent_runs"]] == [
        ("orders", "failed", None, 9.0), ("orders", "success", 5, 12.0)]
    table = render_overview(overview)
    table = table[table.index('id="recent-runs"'):]
    assert '<span class="badge failed">failed</span>' in table and '<td class="num">5</td>' in table
