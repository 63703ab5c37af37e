"""The plugin in a real browser: headless Chromium logs in on Airflow's login page, then opens the
Dango overview, the dbt docs and the overview inside the Airflow UI, served by a real api-server."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.apiserver import ApiServer, api_server, generate_served_docs, make_served_project, prepare_airflow_home
from tests.browser.webdriver import CHROMEDRIVER, CHROMIUM, Browser

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"),
]

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> ApiServer:
    project = make_served_project(tmp_path_factory.mktemp("browser") / "shop")
    generate_served_docs(project)
    home = prepare_airflow_home(tmp_path_factory.mktemp("browser_airflow"), project)
    with api_server(home, tmp_path_factory.mktemp("browser_server"), project, users={"analyst": "VIEWER", "editor": "ADMIN"}) as started:
        yield started


def logged_in(workdir: Path, server: ApiServer, user: str) -> Browser:
    """A browser logged in as ``user`` through Airflow's login page, sent there by ``/dango/``."""
    chromium = Browser(workdir)
    try:
        chromium.open(f"{server.url}/dango/")
        chromium.type(chromium.find("input[name='username']"), user)
        chromium.type(chromium.find("input[name='password']"), server.passwords[user])
        chromium.click(chromium.find("button[type='submit']"))
        # the login page sends the browser back to the page it came from
        chromium.wait(lambda: urlsplit(chromium.url).path == "/dango/", what="the overview after login")
    except BaseException:
        chromium.quit()
        raise
    return chromium


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory) -> Browser:
    """A read-only user's browser."""
    chromium = logged_in(tmp_path_factory.mktemp("chromium"), server, "analyst")
    try:
        yield chromium
    finally:
        chromium.quit()


def source_rows(browser: Browser) -> dict[str, str]:
    rows = browser.find_all("table#sources tr.source")
    return {browser.attribute(row, "data-source"): browser.text(row) for row in rows}


def test_login_leads_to_the_overview_with_its_sources(browser, server, tmp_path):
    assert urlsplit(browser.url).path == "/dango/"
    assert browser.text(browser.find("h1")) == "Dango overview"
    rows = source_rows(browser)
    assert list(rows) == ["orders", "customers", "payments", "replica"]
    assert "dango_ingest__orders" in rows["orders"] and "0 6 * * *" in rows["orders"]
    assert "blocked by schema drift" in rows["customers"] and "1 PII column" in rows["customers"]
    assert "never" in rows["payments"] and "DANGO_TEST_STRIPE_KEY" in rows["payments"]
    schemas = [browser.attribute(t, "data-schema") for t in browser.find_all("#warehouse table.schema")]
    assert schemas == ["dango_meta", "raw_customers", "raw_orders"]
    orders_count = browser.find("tr[data-table='raw_orders.orders'] td.num")
    assert browser.text(orders_count) == "4"
    # the chart is drawn: three bars with a real size on screen
    sizes = browser.script(
        "return [...document.querySelectorAll('#runs-chart rect.bar')].map(r => r.getBoundingClientRect().height)")
    assert len(sizes) == 3 and all(h > 0 for h in sizes)
    # the page loaded nothing besides itself
    assert browser.script("return performance.getEntriesByType('resource').map(e => e.name)") == []

    shot = browser.screenshot(tmp_path / "overview.png")
    assert shot.read_bytes().startswith(PNG) and shot.stat().st_size > 20_000


def test_the_dbt_docs_site_renders(browser, server, tmp_path):
    browser.open(f"{server.url}/dango/docs/#!/model/model.shop.order_totals")
    # dbt's docs app fetched manifest.json and catalog.json and shows the project's model with its SQL
    browser.wait(lambda: "raw_orders.orders" in browser.script("return document.body.innerText"), timeout=90,
                 what="the dbt docs page of the model order_totals")
    assert "order_totals" in browser.script("return document.body.innerText")
    shot = browser.screenshot(tmp_path / "dbt_docs.png")
    assert shot.read_bytes().startswith(PNG) and shot.stat().st_size > 20_000
    fetched = browser.script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched and all(url.startswith(f"{server.url}/dango/docs/") for url in fetched), fetched


def test_the_overview_inside_the_airflow_ui(browser, server, tmp_path):
    browser.open(f"{server.url}/plugin/dango")
    frame = browser.find("iframe[title='Overview']", timeout=120)
    browser.frame(frame)
    try:
        browser.find("table#sources", timeout=60)
        rows = source_rows(browser)
        assert list(rows) == ["orders", "customers", "payments", "replica"]
        # framed: no links that would open Airflow inside itself
        assert browser.find_all("a.dag-link") == []
        assert browser.find_all("span.dag-id")
    finally:
        browser.frame(None)
    shot = browser.screenshot(tmp_path / "overview_in_airflow.png")
    assert shot.read_bytes().startswith(PNG)


def test_the_dango_tab_of_an_ingest_dag_shows_its_source(browser, server, tmp_path):
    browser.open(f"{server.url}/dags/dango_ingest__customers/plugin/dango-dag")
    frame = browser.find("iframe[title='Dango']", timeout=120)
    browser.frame(frame)
    try:
        browser.wait(lambda: browser.script("return location.hash") == "#source-customers", timeout=60,
                     what="the customers row of the overview")
        target = browser.script("return document.querySelector(':target').dataset.source")
        assert target == "customers"
        # only that source: its row, its loads; no other source, no warehouse listing
        assert list(source_rows(browser)) == ["customers"]
        assert browser.find_all("#warehouse") == [] and browser.find_all("#transform") == []
        assert {browser.attribute(r, "data-source") for r in browser.find_all("#recent-loads tr[data-source]")} == \
            {"customers"}
        assert browser.script("return document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        assert browser.script("const s = document.querySelector('#sources').parentElement; "
                              "return s.scrollWidth - s.clientWidth") <= 0
        # a viewer may not edit the DAG: no action buttons
        assert browser.find_all(".actions button") == []
    finally:
        browser.frame(None)
    browser.screenshot(tmp_path / "dag_tab.png")


@pytest.mark.parametrize("width", [1400, 800])
def test_the_transform_section_fits_wide_and_narrow_windows(browser, server, tmp_path, width):
    """dbt's results of the last run, failures first with the failed test's compiled SQL, at 1400 and 800
    pixels wide: no horizontal scroll, nothing fetched besides the page."""
    from dango_provider.core.naming import Naming
    from dango_provider.core.transform_results import record

    long_message = "Got 3 results, configured to fail if != 0; " + "a_very_long_identifier_" * 12
    record(Naming.state_dir(Path(server.env["AIRFLOW__DANGO__PROJECT_DIR"])), "manual__browser", {"results": [
        {"unique_id": "model.shop.order_totals", "status": "success", "execution_time": 0.4,
         "adapter_response": {"rows_affected": 1}},
        {"unique_id": "test.shop.assert_positive_amounts", "status": "fail", "execution_time": 0.1, "failures": 3,
         "message": long_message, "compiled_code": "select * from raw_orders.orders where amount < 0"}]},
        task_id="dbt.order_totals_model_build")
    browser.resize(width, 1000)
    try:
        browser.open(f"{server.url}/dango/?width={width}#transform")  # a new address: the page loads afresh
        nodes = browser.find("table#transform-nodes")
        rows = [browser.attribute(r, "data-node") for r in browser.find_all("#transform-nodes tr.node")]
        assert rows[0] == "test.shop.assert_positive_amounts" and "model.shop.order_totals" in rows
        assert "configured to fail" in browser.text(nodes)
        summary = browser.find("#transform-nodes details.compiled summary")
        browser.click(summary)  # the compiled SQL is folded until asked for
        browser.wait(lambda: browser.script("return document.querySelector('#transform-nodes details.compiled').open"),
                     what="the compiled SQL unfolded")
        assert "where amount < 0" in browser.text(browser.find("#transform-nodes details.compiled pre"))
        overflow = browser.script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{overflow}px of horizontal scroll at {width}px"
        # the sources table fits too (at 800 px one block per source, each cell labelled)
        inner = browser.script("const s = document.querySelector('#sources').parentElement; "
                               "return s.scrollWidth - s.clientWidth")
        assert inner <= 0, f"the sources table scrolls {inner}px sideways at {width}px"
        assert browser.script("return performance.getEntriesByType('resource').map(e => e.name)") == []
        shot = browser.screenshot(tmp_path / f"transform_{width}.png")
        assert shot.read_bytes().startswith(PNG)
    finally:
        browser.resize(1400, 1000)


def test_an_editor_sees_the_actions_and_a_refusal_says_what_to_do(server, tmp_path):
    """Logged in as a user who may edit the DAGs: the buttons are there; pressing Re-run while the DAG is
    paused (nothing would run it) answers 409 with what to do, and no run is created."""
    (tmp_path / "editor").mkdir()
    editor = logged_in(tmp_path / "editor", server, "editor")
    try:
        assert editor.find_all("tr[data-source='orders'] button.act-run")
        assert editor.find_all("button.act-accept-drift"), "customers is blocked: its changes can be accepted"
        editor.screenshot(tmp_path / "overview_editor.png")
        editor.click(editor.find("tr[data-source='orders'] button.act-run"))
        editor.wait(lambda: "is paused" in editor.script("return document.body.innerText"),
                    what="the refusal of a run nothing would execute")
        text = editor.script("return document.body.innerText")
        assert "DAG dango_ingest__orders is paused; unpause it" in text
    finally:
        editor.quit()


def test_the_dango_tab_fits_an_800_pixel_window(browser, server, tmp_path):
    browser.resize(800, 1000)
    try:
        browser.open(f"{server.url}/dags/dango_ingest__orders/plugin/dango-dag")
        frame = browser.find("iframe[title='Dango']", timeout=120)
        browser.frame(frame)
        try:
            browser.find("table#sources", timeout=60)
            assert list(source_rows(browser)) == ["orders"]
            for css in ("document.documentElement", "document.querySelector('#sources').parentElement"):
                overflow = browser.script(f"const e = {css}; return e.scrollWidth - e.clientWidth")
                assert overflow <= 0, f"{css} scrolls {overflow}px sideways at 800 px"
        finally:
            browser.frame(None)
        browser.screenshot(tmp_path / "dag_tab_800.png")
    finally:
        browser.resize(1400, 1000)


@pytest.mark.parametrize("width", [1400, 800])
def test_a_failed_load_shows_its_error_and_log_link_at_both_widths(browser, server, tmp_path, width):
    """The failure a task's failure callback records (``record_failure``): badge, first error line,
    when, task and a link to its log; a long line wraps instead of widening the page."""
    from dango_provider.core.governance_state import record_failure
    from dango_provider.core.naming import Naming

    project = Path(server.env["AIRFLOW__DANGO__PROJECT_DIR"])
    message = ("source 'payments': cannot reach the Stripe API at https://api.stripe.com/v1/charges: HTTP 401 "
               "Unauthorized; check the key named by api_key_env " + "x" * 200)
    record_failure(Naming.state_dir(project) / "sources" / "payments", {
        "dag_id": "dango_ingest__payments", "task_id": "extract", "run_id": "manual__failed", "try_number": 1,
        "error": message, "log_url": f"{server.url}/dags/dango_ingest__payments/runs/manual__failed/tasks/extract"})
    browser.resize(width, 1000)
    try:
        browser.open(f"{server.url}/dango/?failure={width}#source-payments")
        row = browser.find("tr.source[data-source='payments']")
        assert "failed" in browser.text(browser.find("tr.source[data-source='payments'] td.status .badge"))
        assert browser.text(browser.find("#failure-payments pre.error-line")) == message
        link = browser.find("#failure-payments a.log-link")
        assert browser.attribute(link, "href").endswith("/dags/dango_ingest__payments/runs/manual__failed/tasks/extract")
        assert "extract" in browser.text(browser.find("#failure-payments")) and row
        overflow = browser.script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{overflow}px of horizontal scroll at {width}px"
        browser.screenshot(tmp_path / f"failure_{width}.png")
    finally:
        browser.resize(1400, 1000)


def test_the_dbt_docs_site_renders_at_800_pixels(browser, server, tmp_path):
    browser.resize(800, 1000)
    try:
        browser.open(f"{server.url}/dango/docs/?w=800#!/model/model.shop.order_totals")
        browser.wait(lambda: "raw_orders.orders" in browser.script("return document.body.innerText"), timeout=90,
                     what="the dbt docs page of the model order_totals at 800 px")
        fetched = browser.script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert fetched and all(url.startswith(f"{server.url}/dango/docs/") for url in fetched), fetched
        browser.screenshot(tmp_path / "dbt_docs_800.png")
        # dbt's frame is fixed to the window (no scroll bar at all): it must not be wider, or its right is cut off
        frame, window = browser.script("return [document.querySelector('.app').getBoundingClientRect().right, "
                                       "document.documentElement.clientWidth]")
        assert frame <= window, f"the dbt docs are {frame - window}px wider than the 800 px window, cut off"
        overflow = browser.script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the dbt docs scroll {overflow}px sideways at 800 px"
    finally:
        browser.resize(1400, 1000)
