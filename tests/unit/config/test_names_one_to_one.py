"""Source and table names must map one-to-one onto what dlt stores (checked with dlt's own naming
convention): a name dlt would rewrite, or one that lands on another source's schema, is refused."""

from __future__ import annotations

import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import DangoConfigError
from dango_provider.sources.names import check_names, name_problems
from tests.unit.helpers import line_of, run_dango


def csv_source(name: str, extra: str = "") -> str:
    return f"  - name: {name}\n    type: csv\n    csv: {{directory: data/{name}{extra}}}\n"


CASES = {
    "double_underscore_collides": (
        csv_source("a_b") + csv_source("a__b"), "sources[1].name", "- name: a__b",
        "source name 'a__b' would be stored by dlt as schema 'raw_a_b' instead of 'raw_a__b'"),
    "single_double_underscore": (
        csv_source("shop__orders"), "sources[0].name", "- name: shop__orders",
        "source name 'shop__orders' would be stored by dlt as schema 'raw_shop_orders'"),
    "trailing_underscore": (
        csv_source("orders_"), "sources[0].name", "- name: orders_",
        "source name 'orders_' would be stored by dlt as schema 'raw_ordersx'"),
    "table_name": (
        csv_source("orders", ", table: order__lines"), "sources[0].csv.table", "- name: orders",
        "table name 'order__lines' would be stored by dlt as 'order_lines'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_names_dlt_would_change_are_refused(write_sources, project_dir, case):
    entries, field, needle, message = CASES[case]
    text = 'version: "1.0"\nsources:\n' + entries
    sources_file = write_sources(text)
    project = load_project(project_dir)  # the model itself accepts these names ...

    with pytest.raises(DangoConfigError) as info:  # ... dlt's naming convention does not
        check_names(project)

    assert (info.value.file, info.value.field) == (str(sources_file), field)
    assert info.value.line == line_of(text, needle) + (1 if field.endswith("table") else 0) * 2
    assert info.value.message.startswith(message)
    proc = run_dango("validate", str(project_dir))
    assert proc.returncode == 1
    assert f"{sources_file}:{info.value.line}: {field}: {message}" in proc.stderr


def test_distinct_names_that_dlt_keeps_pass(write_sources, project_dir):
    write_sources('version: "1.0"\nsources:\n' + csv_source("a_b") + csv_source("ab") + csv_source("a_b_2"))
    check_names(load_project(project_dir))
    assert run_dango("validate", str(project_dir)).returncode == 0


def test_source_add_refuses_a_colliding_name(write_sources, project_dir):
    sources_file = write_sources('version: "1.0"\nsources:\n' + csv_source("a_b"))
    before = sources_file.read_bytes()

    proc = run_dango("source", "add", "csv", "--name", "a__b", "--set", "csv.directory=data/x", "--project",
                     str(project_dir))

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "would be stored by dlt as schema 'raw_a_b'" in proc.stderr
    assert sources_file.read_bytes() == before


def test_every_source_type_passes_the_name_check(write_sources, project_dir):
    write_sources('version: "1.0"\nsources:\n' + csv_source("files", ", table: lines") + (
        "  - name: payments\n    type: stripe\n    stripe: {stripe_secret_key_env: STRIPE_API_KEY}\n"
        "  - name: repo\n    type: github\n    github: {owner: o, name: r, access_token_env: GITHUB_TOKEN}\n"
        "  - name: crm\n    type: hubspot\n    hubspot: {api_key_env: HUBSPOT_KEY}\n"
        "  - name: api\n    type: rest_api\n    rest_api: {base_url: 'https://api.example.com', endpoints: [a]}\n"
        "  - name: replica\n    type: sql_database\n    sql_database: {conn_id: db, schema: public}\n"
        "  - name: feed\n    type: dlt_native\n    dlt_native: {source_module: feed, source_function: feed}\n"
        "  - name: bucket\n    type: filesystem\n    filesystem: {bucket_url: 's3://b/x', file_glob: '*.csv'}\n"))
    assert name_problems(load_project(project_dir)) == []
