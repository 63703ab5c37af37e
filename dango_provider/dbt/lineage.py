"""OpenLineage events of a dbt task, computed only where something reads them.

After each dbt invocation Cosmos parses the run's manifest and results into OpenLineage events (and, to
do so, copies the task's dbt environment into the process environment). On Airflow 3 only the listener of
Airflow's OpenLineage provider reads them (``get_openlineage_facets_on_complete``); without that provider
they are thrown away, after about a second of parsing for the demo's project in every dbt task.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any


def lineage_is_read() -> bool:
    """Whether Airflow's OpenLineage provider, whose listener reads a task's lineage events, is installed."""
    try:
        return find_spec("airflow.providers.openlineage") is not None
    except ModuleNotFoundError:
        return False


def _no_lineage(*_: Any, **__: Any) -> bool:
    return False


def skip_unread_lineage(task: Any) -> None:
    """Leave out Cosmos' lineage parsing after dbt when nothing would read the events."""
    if not lineage_is_read():
        task.calculate_openlineage_events_completes = _no_lineage
