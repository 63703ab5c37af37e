"""sources.yml blocks of database sources (``sql_database``, Dango's ``postgres`` / ``mysql``) and of
``dlt_native`` sources, loaded by the real loader: what loads, and errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dango_provider.config.loader import load_project
from dango_provider.config.sql_database import SqlTable
from dango_provider.exceptions import DangoConfigError, DangoConfigErrors
from tests.unit.helpers import line_of

SQL_FILE = """\
version: '1.0'
sources:
  - name: shop
    type: sql_database
    write_disposition: merge
    sql_database:
      conn_id: shop_db
      schema: public
      incremental: updated_at
      tables:
        - customers
        - name: order_lines
          incremental: modified_at
          primary_key: [order_id, line_no]
        - {name: audit_log, write_disposition: append}
      backend: connectorx
      chunk_size: 10000
  # Dango's own block for its postgres type
  - name: crm
    type: postgres
    postgres:
      credentials_env: POSTGRES_CREDENTIALS
      schema: public
      table_names: [accounts, contacts]
  - name: legacy
    type: mysql
    mysql: {conn_id: legacy_mysql}
"""


def load_error(project: Path) -> DangoConfigError:
    with pytest.raises(DangoConfigError) as info:
        load_project(project)
    error = info.value
    assert type(error) is DangoConfigError, f"expected one error, got {type(error).__name__}: {error}"
    return error


def test_database_blocks_load_with_their_table_settings(project_dir, write_sources):
    write_sources(SQL_FILE)
    shop, crm, legacy = load_project(project_dir).config.sources

    options = shop.options
    assert (options.conn_id, options.credentials_env, options.schema_name) == ("shop_db", None, "public")
    assert (options.incremental, options.backend, options.chunk_size, options.include_views) == (
        "updated_at", "connectorx", 10000, False)
    assert options.tables == [
        SqlTable(name="customers"),
        SqlTable(name="order_lines", incremental="modified_at", primary_key=["order_id", "line_no"]),
        SqlTable(name="audit_log", write_disposition="append")]
    assert options.table("audit_log").write_disposition == "append"
    assert options.table("not_listed") == SqlTable(name="not_listed")
    assert not shop.is_file_source

    assert crm.type == "postgres"
    assert (crm.options.credentials_env, crm.options.schema_name, crm.options.tables) == (
        "POSTGRES_CREDENTIALS", "public", [SqlTable(name="accounts"), SqlTable(name="contacts")])
    assert (crm.options.backend, crm.options.chunk_size, crm.options.incremental) == ("pyarrow", 50_000, None)
    assert (legacy.options.conn_id, legacy.options.schema_name, legacy.options.tables) == ("legacy_mysql", None, [])


@pytest.mark.parametrize(
    ("block", "field", "message"),
    [
        ("{conn_id: db, credentials_env: DB_URL}", "sources[0].sql_database",
         "set exactly one of conn_id (an Airflow connection) or credentials_env (an environment variable holding a "
         "SQLAlchemy URL such as postgresql://user:password@host:5432/db)"),
        ("{schema: public}", "sources[0].sql_database",
         "set exactly one of conn_id (an Airflow connection) or credentials_env (an environment variable holding a "
         "SQLAlchemy URL such as postgresql://user:password@host:5432/db)"),
        ("{conn_id: '  '}", "sources[0].sql_database.conn_id", "must not be empty"),
        ("{conn_id: db, tables: [orders, {name: orders, incremental: updated_at}]}", "sources[0].sql_database",
         "table 'orders' is listed twice in tables"),
        ("{conn_id: db, backend: pandas}", "sources[0].sql_database.backend",
         "Input should be 'pyarrow', 'connectorx' or 'sqlalchemy' (got 'pandas')"),
        ("{conn_id: db, chunk_size: 0}", "sources[0].sql_database.chunk_size",
         "Input should be greater than or equal to 1"),
        ("{conn_id: db, tables: [{name: orders, write_disposition: upsert}]}",
         "sources[0].sql_database.tables[0].write_disposition",
         "Input should be 'append', 'merge' or 'replace' (got 'upsert')"),
    ],
)
def test_database_block_errors_name_the_field(project_dir, write_sources, block, field, message):
    text = f"sources:\n  - name: shop\n    type: sql_database\n    sql_database: {block}\n"
    path = write_sources(text)
    error = load_error(project_dir)
    assert (error.file, error.line, error.field, error.message) == (str(path), 4, field, message)


def test_unknown_database_keys_and_a_password_in_the_file_are_refused(project_dir, write_sources):
    path = write_sources("""\
        sources:
          - name: shop
            type: postgres
            postgres:
              conn_id: shop_db
              password: hunter2
        """)
    error = load_error(project_dir)
    assert (error.file, error.line, error.field) == (str(path), 6, "sources[0].postgres.password")
    assert error.message.startswith("unknown key 'password'; allowed keys here: ")
    assert "hunter2" not in str(error)

    path = write_sources("""\
        sources:
          - name: shop
            type: sql_database
            sql_database:
              conn_id: shop_db
              tables:
                - name: orders
                  cursor: updated_at
        """)
    error = load_error(project_dir)
    assert (error.line, error.field, error.message) == (
        line_of(path.read_text(), "cursor:"), "sources[0].sql_database.tables[0].cursor",
        "unknown key 'cursor'; allowed keys here: incremental, name, primary_key, write_disposition")


def test_dlt_native_block_loads_as_dango_writes_it(project_dir, write_sources):
    write_sources("""\
        version: '1.0'
        sources:
          - name: my_notion
            type: dlt_native
            enabled: true
            dlt_native:
              source_module: notion
              source_function: notion_databases
              function_kwargs:
                database_ids: ["abc123"]
                api_key: ${NOTION_API_KEY}
          - name: internal
            type: dlt_native
            dlt_native: {source_module: sources.internal_api, source_function: internal_api}
        """)
    notion, internal = load_project(project_dir).config.sources
    assert (notion.options.source_module, notion.options.source_function) == ("notion", "notion_databases")
    assert notion.options.function_kwargs == {"database_ids": ["abc123"], "api_key": "${NOTION_API_KEY}"}
    assert (internal.options.source_module, internal.options.function_kwargs) == ("sources.internal_api", {})


@pytest.mark.parametrize(
    ("block", "field", "message"),
    [
        ("{source_module: my-source, source_function: feed}", "sources[0].dlt_native.source_module",
         "'my-source' is not a Python module name; use a dotted name such as 'my_source' "
         "(custom_sources/my_source.py) or 'my_package.sources'"),
        ("{source_module: feeds, source_function: 'feed()'}", "sources[0].dlt_native.source_function",
         "'feed()' is not a Python function name"),
        ("{source_module: feeds, source_function: feed, function_kwargs: {page-size: 10}}",
         "sources[0].dlt_native.function_kwargs", "'page-size' is not a keyword argument name"),
        ("{source_module: feeds, source_function: feed, kwargs: {a: 1}}", "sources[0].dlt_native.kwargs",
         "unknown key 'kwargs'; allowed keys here: dataset_name, function_kwargs, pipeline_name, source_function, "
         "source_module"),
    ],
)
def test_dlt_native_block_errors_name_the_field(project_dir, write_sources, block, field, message):
    path = write_sources(f"sources:\n  - name: feed\n    type: dlt_native\n    dlt_native: {block}\n")
    error = load_error(project_dir)
    assert (error.file, error.line, error.field, error.message) == (str(path), 4, field, message)


def test_every_error_of_a_file_is_reported(project_dir, write_sources):
    write_sources("""\
        sources:
          - name: shop
            type: sql_database
            sql_database: {tables: [orders]}
          - name: feed
            type: dlt_native
            dlt_native: {source_module: '1feed', source_function: feed}
        """)
    with pytest.raises(DangoConfigErrors) as info:
        load_project(project_dir)
    assert [(e.line, e.field) for e in info.value.errors] == [
        (4, "sources[0].sql_database"), (7, "sources[1].dlt_native.source_module")]


def test_dango_generic_config_block_is_read_as_the_postgres_block(tmp_path):
    from dango_provider.config.loader import load_project

    (tmp_path / "sources.yml").write_text(
        "sources:\n"
        "  - name: crm\n"
        "    type: postgres\n"
        "    generic_config: {credentials_env: POSTGRES_CREDENTIALS, schema: public, table_names: [accounts]}\n")

    source = load_project(tmp_path).source("crm")

    assert source.options.credentials_env == "POSTGRES_CREDENTIALS"
