"""The Airflow plugin of dango-provider (entry point ``airflow.plugins``)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from dango_provider.plugins import pool_listener


class DangoPlugin(AirflowPlugin):
    name = "dango"
    listeners = [pool_listener]
