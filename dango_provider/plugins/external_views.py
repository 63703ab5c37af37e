"""The plugin's entries in the Airflow UI (``external_views`` of Airflow 3).

An entry with a ``url_route`` is shown inside the Airflow UI (an iframe under ``/plugin/<url_route>``);
one without opens in a new browser tab. ``destination: "dag"`` adds a tab to every DAG page, whose
``href`` Airflow fills with the DAG's id (``{DAG_ID}``). Entries of one ``category`` are grouped in a
submenu of the Plugins menu.
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: where the plugin's FastAPI app is mounted in the API server
URL_PREFIX = "/dango"
CATEGORY = "Dango"


def base_path(base_url: str) -> str:
    """The path of Airflow's ``[api] base_url`` without a trailing slash (``""`` at the root)."""
    return urlsplit(base_url or "").path.rstrip("/")


def without_credentials(url: str) -> str:
    """``url`` without a ``user:password@`` part, which must never reach a page."""
    parts = urlsplit(url or "")
    if parts.username is None and parts.password is None:
        return url or ""
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def external_views(metabase_url: str = "", base_url: str = "") -> list[dict]:
    """Overview and dbt docs (shown in the Airflow UI), Metabase when configured (a new tab), and a
    "Dango" tab on each DAG page that shows the DAG's source on the overview."""
    prefix = base_path(base_url) + URL_PREFIX
    views = [
        {"name": "Overview", "href": f"{prefix}/", "url_route": "dango", "destination": "nav",
         "category": CATEGORY},
        {"name": "dbt Docs", "href": f"{prefix}/docs/", "url_route": "dango-dbt-docs", "destination": "nav",
         "category": CATEGORY},
        {"name": "Dango", "href": f"{prefix}/dags/{{DAG_ID}}", "url_route": "dango-dag", "destination": "dag"},
    ]
    if metabase_url:
        views.insert(2, {"name": "Metabase", "href": without_credentials(metabase_url), "destination": "nav", "category": CATEGORY})
    return views
