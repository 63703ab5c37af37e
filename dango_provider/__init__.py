"""dango-provider: sources.yml to dlt ingest DAGs, dbt transforms and governance on DuckDB."""

from __future__ import annotations

__version__ = "0.1.0"
