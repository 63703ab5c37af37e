"""Text of the files a new project starts with."""

from __future__ import annotations

SOURCES_YML = """\
# dango project: each source becomes an Airflow DAG dango_ingest__<name>; dbt runs in dango_transform.
version: "1.0"
warehouse:
  type: duckdb
  path: data/warehouse.duckdb
dbt:
  project_dir: dbt
defaults:
  schedule: null          # cron or preset for every source, e.g. "@daily"; null: trigger by hand
  retries: 2
sources: []
# - name: orders
#   type: csv
#   primary_key: order_id
#   csv:
#     directory: data/orders
#     file_pattern: "*.csv"
"""

DAG_FILE = """\
\"\"\"Airflow DAGs of this dango project (Airflow parses files that mention airflow and dag).\"\"\"
from dango_provider.dag_builder import register

register(globals(), project_dir={project_dir!r})
"""

DBT_PROJECT_YML = """\
name: {name}
version: "1.0.0"
profile: dango
model-paths: ["models"]
seed-paths: ["seeds"]
snapshot-paths: ["snapshots"]
macro-paths: ["macros"]
test-paths: ["tests"]
target-path: target
models:
  {name}:
    staging:
      +materialized: view
      +schema: staging
    intermediate:
      +materialized: view
      +schema: intermediate
    marts:
      +materialized: table
      +schema: marts
"""

PROFILES_YML = """\
# The warehouse path comes from sources.yml (warehouse.path) through DANGO_WAREHOUSE_PATH.
# No extension is installed: the project works offline.
dango:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('DANGO_WAREHOUSE_PATH', '../data/warehouse.duckdb') }}"
      threads: 1
      extensions: []
"""

SCHEMA_MACRO = """\
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
"""
