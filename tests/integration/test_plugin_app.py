"""The plugin's app in a real ``airflow api-server`` (SimpleAuthManager, SQLite metadata database).

The served project's sources were loaded for real and published as the serving copy; ``orders`` has
a queued run of its ingest DAG in Airflow. Secrets sit in an Airflow connection and in environment
variables of the server; no page may show them.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dango_provider.core.naming import Naming
from tests.apiserver import ApiServer, api_server, generate_served_docs, make_served_project, prepare_airflow_home
from tests.conftest import BIN, run

pytestmark = pytest.mark.slow

STRIPE_KEY = "sk_test_" + secrets.token_hex(12)
DB_PASSWORD = "pw" + secrets.token_hex(12)
METABASE_PASSWORD = "mb" + secrets.token_hex(12)
SECRETS = (STRIPE_KEY, DB_PASSWORD, METABASE_PASSWORD)
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_served_project(tmp_path_factory.mktemp("plugin_app") / "shop")


@pytest.fixture(scope="module")
def server(tmp_path_factory, project) -> ApiServer:
    # Airflow knows the project's DAGs and has one (queued) run of the orders ingest DAG
    home = prepare_airflow_home(tmp_path_factory.mktemp("plugin_app_airflow"), project,
                                trigger=("dango_ingest__orders",))
    with api_server(
        home, tmp_path_factory.mktemp("plugin_app_server"), project,
        users={"admin": "ADMIN", "viewer": "VIEWER"},
        DANGO_TEST_STRIPE_KEY=STRIPE_KEY,
        AIRFLOW_CONN_SHOP_REPLICA=f"postgresql://dango:{DB_PASSWORD}@db.internal:5432/shop",
        AIRFLOW__DANGO__METABASE_URL=f"http://bi:{METABASE_PASSWORD}@127.0.0.1:3000/",
    ) as started:
        yield started


@pytest.fixture(scope="module")
def viewer(server) -> dict[str, str]:
    """The cookie the Airflow UI sets at login, for a read-only user."""
    return {"_token": server.token("viewer")}


def get(server: ApiServer, path: str, **kwargs) -> httpx.Response:
    return httpx.get(server.url + path, timeout=120, follow_redirects=False, **kwargs)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/dango/", "/dango/docs/", "/dango/dags/dango_ingest__orders"])
def test_pages_redirect_to_airflows_login_and_back(server, path):
    response = get(server, path, headers=HTML)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query) == {"next": [path]}
    login = get(server, response.headers["location"], headers=HTML)
    assert login.status_code == 200 and "<title>Airflow</title>" in login.text


def test_api_and_scripts_get_401(server):
    response = get(server, "/dango/api/overview", headers=HTML)
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert get(server, "/dango/docs/manifest.json", headers={"accept": "application/json"}).status_code == 401
    assert get(server, "/dango/", headers={"accept": "application/json"}).status_code == 401


def test_a_forged_or_foreign_token_is_no_login(server):
    forged = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJBRE1JTiJ9.c2lnbmF0dXJl"
    assert get(server, "/dango/api/overview", headers={"authorization": f"Bearer {forged}"}).status_code == 401
    response = get(server, "/dango/", headers=HTML, cookies={"_token": forged})
    assert response.status_code == 303 and response.headers["location"].startswith("/auth/login")


# --- the overview --------------------------------------------------------------------------------


def rows_of(page: str, source: str) -> str:
    match = re.search(rf'<tr class="source" id="source-{source}".*?</tr>', page, re.S)
    assert match, f"no row for {source}"
    return match.group(0)


def test_overview_page(server, viewer):
    response = get(server, "/dango/", headers=HTML, cookies=viewer)
    assert response.status_code == 200, response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text

    orders = rows_of(page, "orders")
    assert '<td class="num rows" data-label="rows">2</td>' in orders  # the second load: 2 rows
    assert "<code>0 6 * * *</code>" in orders
    assert '<span class="badge queued">queued</span>' in orders  # its DAG run in Airflow
    assert 'href="/dags/dango_ingest__orders"' in orders
    customers = rows_of(page, "customers")
    assert "blocked by schema drift" in customers and "Customer master data from the CRM export" in customers
    assert "1 schema change waiting" in customers and "1 PII column" in customers
    assert "warn after 1h, error after 2d" in customers
    assert "Column &#39;customers.name&#39; (VARCHAR) was removed" in page
    assert "<code>customers.email</code> EMAIL_ADDRESS" in page
    payments = rows_of(page, "payments")
    assert "never" in payments and "env <code>DANGO_TEST_STRIPE_KEY</code>" in payments
    assert "connection <code>shop_replica</code>" in rows_of(page, "replica")

    assert re.search(r'data-table="raw_orders.orders"><td>orders</td>\s*<td class="num">4</td>', page)
    assert re.search(r'data-table="raw_customers.customers"><td>customers</td>\s*<td class="num">2</td>', page)
    assert "_dlt_loads" not in page
    # rows per run: orders loaded twice, customers once; drawn inline, nothing fetched
    assert page.count('<rect class="bar"') == 3
    assert not re.search(r'<(script|img|iframe|object|embed)\b', page)
    assert re.findall(r'<link\b[^>]*>', page) == ['<link rel="icon" href="data:,">']
    assert_no_secret(page)


# A load in progress: holds the live warehouse open read-write (DuckDB's own file lock) and the write lock.
HOLDER = """\
import fcntl, os, sys
import duckdb
con = duckdb.connect(sys.argv[1])
fd = os.open(sys.argv[2], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("holding", flush=True)
sys.stdin.read()
"""


def test_the_page_never_waits_for_a_load(server, viewer, project):
    warehouse = project / "data" / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(warehouse), str(Naming.lock_path(warehouse))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        response = get(server, "/dango/api/overview", cookies=viewer)
        assert response.status_code == 200
        assert response.json()["serving_copy"]["error"] is None
        assert time.monotonic() - started < 30
    finally:
        holder.communicate("", timeout=60)


def test_without_a_serving_copy_the_page_says_so(server, viewer, project):
    serving = project / "data" / "serving" / "warehouse.duckdb"
    aside = serving.with_name("warehouse.duckdb.aside")
    serving.rename(aside)
    try:
        response = get(server, "/dango/", headers=HTML, cookies=viewer)
        assert response.status_code == 200
        assert 'id="no-serving-copy"' in response.text and "No serving copy yet." in response.text
        assert 'id="source-orders"' in response.text
        assert 'data-table="raw_orders.orders"' not in response.text
    finally:
        aside.rename(serving)


def test_overview_json(server):
    token = server.token("admin")
    response = get(server, "/dango/api/overview", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    data = response.json()
    sources = {s["name"]: s for s in data["sources"]}
    assert list(sources) == ["orders", "customers", "payments", "replica"]
    assert [x["rows"] for x in sources["orders"]["loads"]] == [3, 2]
    assert sources["orders"]["last_load"]["rows"] == 2 and sources["orders"]["last_load"]["from"] == "serving copy"
    assert sources["orders"]["last_run"]["state"] == "queued"
    assert sources["orders"]["freshness"]["status"] == "fresh"
    assert sources["customers"]["drift"]["blocked"] is True
    assert [(e["column"], e["kind"]) for e in sources["customers"]["drift"]["open"]] == [("name", "column_removed")]
    assert [(f["column"], f["entity"]) for f in sources["customers"]["pii"]] == [("email", "EMAIL_ADDRESS")]
    assert sources["payments"]["status"] == "never loaded"
    assert sources["payments"]["freshness"]["status"] == "error"
    assert sources["replica"]["credentials"] == [{"kind": "connection", "name": "shop_replica"}]
    tables = {f"{s['name']}.{t['name']}": t["rows"] for s in data["schemas"] for t in s["tables"]}
    assert tables["raw_orders.orders"] == 4 and tables["raw_customers.customers"] == 2
    assert data["serving_copy"]["exists"] is True
    assert_no_secret(response.text)


def test_dag_tab_shows_the_dags_source(server, viewer):
    response = get(server, "/dango/dags/dango_ingest__customers", headers=HTML, cookies=viewer)
    assert (response.status_code, response.headers["location"]) == (303, "/dango/?only=customers#source-customers")
    response = get(server, "/dango/dags/dango_transform", headers=HTML, cookies=viewer)
    assert (response.status_code, response.headers["location"]) == (303, "/dango/?only=transform#transform")
    response = get(server, "/dango/dags/someone_elses_dag", headers=HTML, cookies=viewer)
    assert response.status_code == 200 and "is not built by dango-provider" in response.text


# --- dbt docs --------------------------------------------------------------------------------------


def test_dbt_docs_before_and_after_they_are_generated(server, viewer, project):
    missing = get(server, "/dango/docs/", headers=HTML, cookies=viewer)
    assert missing.status_code == 404
    assert "The dbt docs have not been generated yet." in missing.text

    generate_served_docs(project)

    assert get(server, "/dango/docs", cookies=viewer).headers["location"] == "/dango/docs/"
    index = get(server, "/dango/docs/", headers=HTML, cookies=viewer)
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert "dbt-docs" in index.text or "dbt Docs" in index.text
    assert "frame-ancestors 'self'" in index.headers["content-security-policy"]
    manifest = get(server, "/dango/docs/manifest.json", cookies=viewer)
    assert manifest.status_code == 200
    assert "model.shop.order_totals" in manifest.json()["nodes"]  # the project's model
    assert get(server, "/dango/docs/catalog.json", cookies=viewer).json()["metadata"]
    # only the site's files, only inside the docs directory
    for path in ("/dango/docs/..%2F..%2Fsources.yml", "/dango/docs/%2E%2E/warehouse.duckdb",
                 "/dango/docs/nothing.json"):
        assert get(server, path, cookies=viewer).status_code == 404, path
    assert_no_secret(index.text + manifest.text)


# --- Airflow lists the plugin; no secret anywhere -----------------------------------------------------


def test_airflow_lists_the_app_and_the_views(server):
    proc = run([str(BIN / "airflow"), "plugins", "--output", "json"], server.env)
    (dango,) = [p for p in json.loads(proc.stdout) if p["name"] == "dango"]
    assert [(a["name"], a["url_prefix"]) for a in dango["fastapi_apps"]] == [("dango", "/dango")]
    views = {v["name"]: v for v in dango["external_views"]}
    assert views["Overview"]["href"] == "/dango/" and views["dbt Docs"]["href"] == "/dango/docs/"
    assert views["Metabase"]["href"] == "http://127.0.0.1:3000/"
    assert views["Dango"]["href"] == "/dango/dags/{DAG_ID}" and views["Dango"]["destination"] == "dag"
    assert_no_secret(proc.stdout)

    token = server.token("admin")
    listed = get(server, "/api/v2/plugins", headers={"authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    (api_dango,) = [p for p in listed.json()["plugins"] if p["name"] == "dango"]
    assert {v["name"] for v in api_dango["external_views"]} == {"Overview", "dbt Docs", "Metabase", "Dango"}
    assert_no_secret(listed.text)


def test_no_page_shows_a_secret(server, viewer):
    pages = ["/dango/", "/dango/api/overview", "/dango/docs/", "/dango/docs/manifest.json",
             "/dango/dags/dango_ingest__payments", "/dango/dags/dango_ingest__replica", "/dango/dags/other"]
    seen = 0
    for path in pages:
        for response in (get(server, path, headers=HTML, cookies=viewer), get(server, path, headers=HTML)):
            assert_no_secret(response.text)
            assert_no_secret(json.dumps(dict(response.headers)))
            seen += 1
    assert seen == 2 * len(pages)
    # the secrets are really set in the server: the check above could have failed
    assert STRIPE_KEY == server.env["DANGO_TEST_STRIPE_KEY"]
    assert DB_PASSWORD in server.env["AIRFLOW_CONN_SHOP_REPLICA"]
