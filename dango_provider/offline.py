"""Usage telemetry off in every process the provider runs in: Cosmos, dlt and dbt each phone home
unless told not to, and these machines (and many users') are offline.

Cosmos reads its switches when ``cosmos.settings`` is first imported, which Cosmos's own Airflow plugin
does in every component before any DAG file runs; so besides the environment (read by processes
started later and by a Cosmos imported later) an already imported ``cosmos.settings`` is switched off
in place. Its ``should_emit()`` reads these attributes on every call.
"""

from __future__ import annotations

import os
import sys

TELEMETRY_OFF = {
    "SCARF_NO_ANALYTICS": "true",  # Cosmos (Scarf gateway)
    "DO_NOT_TRACK": "true",  # Cosmos, and dbt's own check
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "RUNTIME__DLTHUB_TELEMETRY": "false",  # dlt
}


def disable_telemetry() -> None:
    for key, value in TELEMETRY_OFF.items():
        os.environ[key] = value
    cosmos_settings = sys.modules.get("cosmos.settings")
    if cosmos_settings is not None:
        cosmos_settings.enable_telemetry = False
        cosmos_settings.do_not_track = True
        cosmos_settings.no_analytics = True


disable_telemetry()
