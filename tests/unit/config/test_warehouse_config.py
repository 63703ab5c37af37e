"""The ``warehouse`` block: a DuckDB file by default, or a DuckLake (catalog connection + data path)."""

from __future__ import annotations

import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import DangoConfigError

SOURCE = "sources:\n  - name: orders\n    type: csv\n    csv: {directory: data/orders}\n"


def load_error(project_dir) -> DangoConfigError:
    with pytest.raises(DangoConfigError) as info:
        load_project(project_dir)
    return info.value


def test_a_ducklake_warehouse_loads_with_its_catalog_and_data_path(write_sources, project_dir):
    write_sources("warehouse: {type: ducklake, catalog: lake_pg, data_path: data/lake, metadata_schema: shop}\n"
                  + SOURCE)
    project = load_project(project_dir)
    block = project.config.warehouse
    assert (block.type, block.catalog, block.metadata_schema) == ("ducklake", "lake_pg", "shop")
    assert project.lake_data_path == (project_dir / "data" / "lake").resolve()


def test_the_default_warehouse_is_a_duckdb_file_without_a_lake(write_sources, project_dir):
    write_sources(SOURCE)
    project = load_project(project_dir)
    assert project.config.warehouse.type == "duckdb" and project.lake_data_path is None


@pytest.mark.parametrize(("block", "field", "message"), [
    ("{type: ducklake, data_path: data/lake}", "warehouse", "warehouse type ducklake needs catalog"),
    ("{type: ducklake, catalog: lake_pg}", "warehouse", "warehouse type ducklake needs data_path"),
    ("{catalog: lake_pg}", "warehouse", "catalog and data_path belong to warehouse type ducklake"),
    ("{type: ducklake, catalog: 'lake pg', data_path: data/lake}", "warehouse.catalog",
     "'lake pg' is not an Airflow connection id"),
    ("{type: ducklake, catalog: lake_pg, data_path: \"data/it's\"}", "warehouse.data_path",
     "a warehouse path may not contain a single quote"),
    ("{type: ducklake, catalog: lake_pg, data_path: data/lake, metadata_schema: 'a;b'}",
     "warehouse.metadata_schema", "'a;b' is not a PostgreSQL schema name"),
    ("{type: ducklake, catalog: lake_pg, data_path: 's3://bucket/lake'}", "warehouse.data_path",
     "'s3://' is not supported: a warehouse path is a directory path"),
    ("{type: snowflake}", "warehouse.type", "'duckdb' or 'ducklake'"),
])
def test_a_wrong_warehouse_block_is_an_error_naming_the_field(write_sources, project_dir, block, field, message):
    write_sources(f"warehouse: {block}\n" + SOURCE)
    error = load_error(project_dir)
    assert error.field == field, error
    assert message in error.message, error


def test_a_lake_data_path_outside_the_project_is_refused(write_sources, project_dir, tmp_path):
    write_sources(f"warehouse: {{type: ducklake, catalog: lake_pg, data_path: {tmp_path / 'shared'}}}\n" + SOURCE)
    error = load_error(project_dir)
    assert error.field == "warehouse.data_path"
    assert "outside the project directory" in error.message
    project = load_project(project_dir, allowed_roots=(tmp_path / "shared",))
    assert project.lake_data_path == (tmp_path / "shared").resolve()


def test_a_warehouse_waits_for_its_lock_as_long_as_the_deployment_says(write_sources, project_dir, monkeypatch):
    from dango_provider.hooks.warehouse import warehouse_for

    write_sources(SOURCE)
    project = load_project(project_dir)
    monkeypatch.setenv("AIRFLOW__DANGO__LOCK_TIMEOUT", "42")
    assert warehouse_for(project).lock_timeout == 42
    assert warehouse_for(project, lock_timeout=5).lock_timeout == 5
