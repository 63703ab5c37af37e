"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from dango_provider import __version__


def _option(description: str, type_: str, default: str | None, example: str | None = None) -> dict:
    return {"description": description, "version_added": "0.1.0", "type": type_, "example": example, "default": default}


def get_provider_info() -> dict:
    return {
        "package-name": "dango-provider",
        "name": "Dango",
        "description": "sources.yml to dlt ingest DAGs into DuckDB, dbt transforms rendered by Cosmos, governance and serving.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": "Dango", "external-doc-url": "https://pypi.org/project/dango-provider/", "tags": ["software"]}
        ],
        "operators": [{"integration-name": "Dango", "python-modules": [
            "dango_provider.operators.ingest", "dango_provider.operators.staging",
            "dango_provider.operators.dbt_docs", "dango_provider.operators.metabase"]}],
        "hooks": [{"integration-name": "Dango", "python-modules": ["dango_provider.hooks.duckdb"]}],
        "plugins": [{"name": "dango", "plugin-class": "dango_provider.plugins.dango_plugin.DangoPlugin"}],
        "config": {
            "dango": {
                "description": "Settings of dango-provider.",
                "options": {
                    "project_dir": _option(
                        "Directory of the dango project (holds sources.yml or .dango/sources.yml). "
                        "Relative paths are taken from the Airflow DAGs folder.",
                        "string", "", "/opt/airflow/project",
                    ),
                    "pool": _option("Airflow pool that serializes warehouse writes.", "string", "dango_duckdb"),
                    "pool_slots": _option(
                        "Slots of the writer pool when the provider creates it. Keep 1 for DuckDB.", "integer", "1"
                    ),
                    "lock_timeout": _option(
                        "Seconds a writer waits for the warehouse file lock before it fails naming the holder.",
                        "integer", "600",
                    ),
                    "allowed_data_roots": _option(
                        "Directories outside the project directory that sources.yml may read from or write to "
                        "(absolute paths, separated by commas). Nothing else outside the project is read.",
                        "string", "", "/data/landing,/mnt/exports",
                    ),
                    "metabase_url": _option("URL of Metabase, linked from the Airflow UI.", "string", "", "http://localhost:3000"),
                },
            }
        },
    }
