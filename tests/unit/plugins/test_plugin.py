"""The plugin class: its UI entries, its app behind ``/dango``, and what importing it costs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import httpx

from dango_provider.plugins.asgi import LazyASGIApp
from dango_provider.plugins.external_views import external_views, without_credentials
from tests.unit.helpers import REPO


def test_overview_docs_and_dag_tab_and_metabase_only_when_set():
    views = {v["name"]: v for v in external_views()}
    assert set(views) == {"Overview", "dbt Docs", "Dango"}
    assert views["Overview"] == {"name": "Overview", "href": "/dango/", "url_route": "dango", "destination": "nav",
                                 "category": "Dango"}
    assert views["dbt Docs"]["href"] == "/dango/docs/" and views["dbt Docs"]["url_route"] == "dango-dbt-docs"
    # Airflow fills {DAG_ID} in hrefs of views shown on DAG pages
    assert views["Dango"] == {"name": "Dango", "href": "/dango/dags/{DAG_ID}", "url_route": "dango-dag",
                              "destination": "dag"}

    with_metabase = {v["name"]: v for v in external_views("http://metabase.local:3000")}
    # no url_route: Metabase opens in its own tab
    assert with_metabase["Metabase"] == {"name": "Metabase", "href": "http://metabase.local:3000",
                                         "destination": "nav", "category": "Dango"}


def test_hrefs_follow_airflows_base_url():
    views = {v["name"]: v["href"] for v in external_views("", "https://example.com/airflow/")}
    assert views == {"Overview": "/airflow/dango/", "dbt Docs": "/airflow/dango/docs/",
                     "Dango": "/airflow/dango/dags/{DAG_ID}"}


def test_a_metabase_url_never_carries_credentials_to_the_ui():
    assert without_credentials("http://admin:s3cret@bi.local:3000/x?y=1") == "http://bi.local:3000/x?y=1"
    assert without_credentials("http://bi.local") == "http://bi.local"
    assert without_credentials("") == ""
    (metabase,) = [v for v in external_views("https://u:p@bi.example.com/") if v["name"] == "Metabase"]
    assert metabase["href"] == "https://bi.example.com/"


def test_importing_the_plugin_does_not_build_the_app():
    code = textwrap.dedent("""\
        import sys
        from dango_provider.plugins.dango_plugin import DangoPlugin
        (app,) = DangoPlugin.fastapi_apps
        print(app["url_prefix"], type(app["app"]).__name__, sorted(m for m in ("fastapi", "duckdb", "dlt")
              if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == "/dango LazyASGIApp []", proc.stderr[-3000:]


def test_the_app_is_built_on_the_first_request_and_json_needs_a_login():
    lazy = LazyASGIApp("dango_provider.plugins.app:create_app")
    assert lazy._app is None

    async def get(path: str, **headers: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=lazy)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers=headers)

    response = asyncio.run(get("/api/overview"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert response.headers["www-authenticate"] == "Bearer"
    built = lazy._app
    assert built is not None
    # a script fetching a docs file gets 401 too, not a login page
    assert asyncio.run(get("/docs/manifest.json", accept="application/json")).status_code == 401
    assert lazy._app is built


def test_docs_index_is_styled_and_read_again_when_a_publish_replaced_it(tmp_path):
    import os

    from dango_provider.plugins.app import NARROW_DOCS_STYLE, _docs_index

    index = tmp_path / "index.html"
    index.write_text("<html><head><title>one</title></head><body></body></html>")
    first = _docs_index(index)
    assert first == f"<html><head><title>one</title>{NARROW_DOCS_STYLE}</head><body></body></html>"
    assert _docs_index(index) is first, "an unchanged page is not read again"
    # a publish swaps a new file in (same size, same modification time): the new page is served
    new = tmp_path / "new.html"
    new.write_text("<html><head><title>two</title></head><body></body></html>")
    stat = index.stat()
    os.utime(new, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(new, index)
    assert "<title>two</title>" in _docs_index(index)
