"""The Airflow plugin of dango-provider (entry point ``airflow.plugins``).

Loaded by every Airflow component, so this module stays light: the FastAPI app behind ``/dango`` is
built by the API server on its first request (``LazyASGIApp``), not at import.
"""

from __future__ import annotations

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

from dango_provider.offline import disable_telemetry
from dango_provider.plugins import external_views as views
from dango_provider.plugins import pool_listener, task_imports
from dango_provider.plugins.asgi import LazyASGIApp
from dango_provider.settings import load_settings

disable_telemetry()  # every Airflow component loads this plugin: no usage telemetry from Cosmos, dbt or dlt


class DangoPlugin(AirflowPlugin):
    name = "dango"
    listeners = [pool_listener, task_imports]
    fastapi_apps = [
        {"name": "dango", "app": LazyASGIApp("dango_provider.plugins.app:create_app"), "url_prefix": views.URL_PREFIX},
    ]
    external_views = views.external_views(load_settings().metabase_url, conf.get("api", "base_url", fallback=""))
