"""Which module builds the dlt source of each non-file source type.

Each module has ``build(project, source, interval) -> dlt source`` (a ``DltSource``, a resource or a
list of resources), carrying write disposition, primary key and incremental hints per resource.
Modules are imported only when a source of their type runs (DAG parsing never imports dlt sources).
"""

from __future__ import annotations

import importlib

from dango_provider.config.loader import Project
from dango_provider.config.model import Source
from dango_provider.sources.interval import Interval

MODULES = {
    "filesystem": "filesystem",
    "rest_api": "rest_api",
    "stripe": "stripe",
    "github": "github",
    "hubspot": "hubspot",
    "sql_database": "sql_database",
    "postgres": "sql_database",
    "mysql": "sql_database",
    "dlt_native": "dlt_native",
}


def build_source(project: Project, source: Source, interval: Interval):
    module = importlib.import_module(f"dango_provider.sources.{MODULES[source.type]}")
    return module.build(project, source, interval)
