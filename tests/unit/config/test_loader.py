"""sources.yml loading: Dango's format, project discovery, and errors that name file, line and field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from dango_provider.config.loader import find_sources_file, load_project
from dango_provider.exceptions import DangoConfigError, DangoConfigErrors
from tests.unit.helpers import REPO, line_of

TOP_LEVEL_KEYS = "dbt, defaults, sources, transform, version, warehouse"
SOURCE_KEYS = (
    "alerts, csv, description, dlt_native, empty_sync_policy, enabled, filesystem, freshness, github, hubspot, "
    "local_files, lookback_days, mysql, name, on_duplicate_keys, pii, postgres, primary_key, rest_api, schedule, schema_drift, settle_seconds, "
    "sql_database, start_date, stripe, tags, type, write_disposition"
)
CSV_KEYS = (
    "deduplication_strategy, delimiter, directory, encoding, file_pattern, header, notes, primary_key, "
    "table, timestamp_column, timestamp_sort"
)
NAME_RULE = (
    "is invalid: use lower-case letters, digits and underscores, starting with a letter, "
    "at most 63 characters (for example 'shop_orders')"
)

# A file as Dango itself writes it (docs: getdango "Configuration Reference", .dango/sources.yml).
DANGO_FILE = """\
version: '1.0'
sources:
- name: sales_data
  type: csv
  enabled: true
  description: Daily sales transactions
  tags: [ecommerce, daily]
  csv:
    directory: data/uploads/sales
    file_pattern: '*.csv'
    deduplication_strategy: latest_only
    primary_key: order_id
    timestamp_column: updated_at
    notes: Export from Shopify daily
- name: app_events
  type: local_files
  enabled: false
  description: Events exported by the app
  tags: [product]
  local_files:
    directory: data/uploads/events
    file_pattern: '*.jsonl'
    format: jsonl
"""


def load_error(project: Path) -> DangoConfigError:
    with pytest.raises(DangoConfigError) as info:
        load_project(project)
    return info.value


def assert_error(error: DangoConfigError, *, file: Path, line: int | None, field: str | None, message: str) -> None:
    assert type(error) is DangoConfigError, f"expected one error, got {type(error).__name__}: {error}"
    assert (error.file, error.line, error.field, error.message) == (str(file), line, field, message)
    where = str(file) + (f":{line}" if line else "") + (f": {field}" if field else "")
    assert str(error) == f"{where}: {message}"


def one_csv_source(extra: str = "", *, name: str = "orders", block: str = "csv: {directory: data/orders}") -> str:
    lines = ["sources:", f"  - name: {name}", "    type: csv"]
    lines += [f"    {line}" for line in textwrap.dedent(extra).splitlines() if line]
    lines.append(f"    {block}")
    return "\n".join(lines) + "\n"


# --- files that load -------------------------------------------------------------------------


def test_demo_sources_file_loads():
    project = load_project(REPO)

    assert project.sources_file == REPO / ".dango" / "sources.yml"
    assert project.root == REPO
    assert [s.name for s in project.config.sources] == ["customers", "products", "orders", "order_lines"]
    assert [s.primary_key for s in project.config.sources] == ["customer_id", "product_id", "order_id", "order_line_id"]
    assert [s.write_disposition for s in project.config.sources] == [None, None, None, "merge"]
    assert project.warehouse_path == REPO / "data" / "warehouse.duckdb"
    assert project.dbt_dir == REPO / "dbt"
    for source in project.config.sources:
        assert source.type == "csv" and source.enabled
        assert source.options.directory == f"include/data/{source.name}"
        assert project.path(source.options.directory).is_dir(), source.name


def test_dango_format_loads_unchanged(write_sources, project_dir):
    write_sources(DANGO_FILE, ".dango/sources.yml")

    project = load_project(project_dir)

    # every key Dango wrote is kept, with its value, and nothing is renamed or dropped
    assert project.config.model_dump(exclude_unset=True) == yaml.safe_load(DANGO_FILE)
    sales, events = project.config.sources
    assert (sales.name, sales.type, sales.enabled, sales.tags) == ("sales_data", "csv", True, ["ecommerce", "daily"])
    assert sales.options is sales.csv
    assert (sales.csv.directory, sales.csv.file_pattern) == ("data/uploads/sales", "*.csv")
    assert sales.csv.primary_key == "order_id"
    assert (sales.csv.deduplication_strategy, sales.csv.timestamp_column) == ("latest_only", "updated_at")
    assert sales.csv.notes == "Export from Shopify daily"
    assert (events.type, events.enabled, events.options.format) == ("local_files", False, "jsonl")
    assert project.enabled_sources == [sales]


def test_dot_dango_sources_file_is_found_and_root_is_its_parent(write_sources, project_dir):
    sources_file = write_sources(one_csv_source(), ".dango/sources.yml")

    assert find_sources_file(project_dir) == sources_file
    for path in (project_dir, sources_file):
        project = load_project(path)
        assert project.sources_file == sources_file
        assert project.root == project_dir.resolve()
        assert project.path("data/orders") == project_dir.resolve() / "data" / "orders"
        assert project.warehouse_path == project_dir.resolve() / "data" / "warehouse.duckdb"
        assert project.dbt_dir == project_dir.resolve() / "dbt"


def test_sources_yml_takes_precedence_over_dot_dango(write_sources, project_dir):
    write_sources(one_csv_source(name="from_dango"), ".dango/sources.yml")
    top = write_sources(one_csv_source(name="from_top"))

    project = load_project(project_dir)

    assert project.sources_file == top
    assert [s.name for s in project.config.sources] == ["from_top"]


def test_empty_file_is_a_project_without_sources(write_sources, project_dir):
    write_sources("# nothing yet\n")

    assert load_project(project_dir).config.sources == []


def test_missing_sources_file_and_missing_directory(project_dir):
    error = load_error(project_dir)
    assert str(error) == (
        f"no sources.yml in '{project_dir}': expected one of "
        "sources.yml, sources.yaml, .dango/sources.yml, .dango/sources.yaml"
    )
    error = load_error(project_dir / "nope")
    assert str(error) == f"project path '{project_dir / 'nope'}' does not exist"


def test_unknown_source_name_lists_sources(write_sources, project_dir):
    sources_file = write_sources(DANGO_FILE)

    with pytest.raises(DangoConfigError) as info:
        load_project(project_dir).source("sales")

    assert str(info.value) == f"{sources_file}: no source named 'sales'; sources: sales_data, app_events"


def test_absolute_directory_outside_the_project_is_refused(write_sources, project_dir, tmp_path):
    write_sources(one_csv_source(block=f"csv: {{directory: {tmp_path / 'elsewhere'}}}"))

    error = load_error(project_dir)

    assert error.field == "sources[0].csv.directory"
    assert error.message.startswith(f"directory '{tmp_path / 'elsewhere'}' resolves to "
                                    f"'{(tmp_path / 'elsewhere').resolve()}', outside the project directory")
    assert "[dango] allowed_data_roots" in error.message


def test_absolute_directory_under_an_allowed_data_root_is_accepted(write_sources, project_dir, tmp_path):
    write_sources(one_csv_source(block=f"csv: {{directory: {tmp_path / 'landing' / 'orders'}}}"))

    project = load_project(project_dir, allowed_roots=(tmp_path / "landing",))

    assert project.config.sources[0].csv.directory == str(tmp_path / "landing" / "orders")
    assert project.roots == (project_dir.resolve(), (tmp_path / "landing").resolve())


@pytest.mark.parametrize("schedule", ["0 6 * * *", "*/15 * * * 1-5", "@daily", "@continuous", "0 0 1 1 *"])
def test_valid_schedules_are_accepted(write_sources, project_dir, schedule):
    write_sources(one_csv_source(f"schedule: {json.dumps(schedule)}"))

    assert load_project(project_dir).config.sources[0].schedule == schedule


# --- errors ----------------------------------------------------------------------------------


def test_malformed_yaml_names_the_line(write_sources, project_dir):
    text = """\
        sources:
          - name: orders
            type: csv
           csv: {directory: data/orders}
        """
    sources_file = write_sources(text)

    assert_error(load_error(project_dir), file=sources_file, line=4, field=None,
                 message="malformed YAML: expected <block end>, but found '<block mapping start>'")


def test_tab_indentation_names_the_line(write_sources, project_dir):
    sources_file = write_sources("version: '1.0'\nsources:\n\t- name: orders\n")

    assert_error(load_error(project_dir), file=sources_file, line=3, field=None,
                 message="malformed YAML: found character '\\t' that cannot start any token")


def test_unknown_top_level_key_lists_allowed_keys(write_sources, project_dir):
    sources_file = write_sources("version: '1.0'\ncolour: red\nsources: []\n")

    assert_error(load_error(project_dir), file=sources_file, line=2, field="colour",
                 message=f"unknown key 'colour'; allowed keys here: {TOP_LEVEL_KEYS}")


def test_unknown_source_key_lists_allowed_keys(write_sources, project_dir):
    text = one_csv_source("colour: red")
    sources_file = write_sources(text)

    assert_error(load_error(project_dir), file=sources_file, line=line_of(text, "colour"),
                 field="sources[0].colour", message=f"unknown key 'colour'; allowed keys here: {SOURCE_KEYS}")


def test_unknown_csv_key_lists_allowed_keys(write_sources, project_dir):
    text = one_csv_source(block="csv:\n      directory: data/orders\n      file_path: data/orders.csv")
    sources_file = write_sources(text)

    assert_error(load_error(project_dir), file=sources_file, line=line_of(text, "file_path"),
                 field="sources[0].csv.file_path", message=f"unknown key 'file_path' (did you mean 'file_pattern'?); allowed keys here: {CSV_KEYS}")


def test_unknown_local_files_key_lists_format(write_sources, project_dir):
    text = """\
        sources:
          - name: events
            type: local_files
            local_files:
              directory: data/events
              compression: gzip
        """
    sources_file = write_sources(text)

    assert_error(load_error(project_dir), file=sources_file, line=6, field="sources[0].local_files.compression",
                 message="unknown key 'compression'; allowed keys here: "
                 "deduplication_strategy, delimiter, directory, encoding, file_pattern, format, header, notes, "
                 "primary_key, table, timestamp_column, timestamp_sort")


def test_unknown_key_starting_with_str_is_named(write_sources, project_dir):
    text = one_csv_source(block="csv:\n      directory: data/orders\n      strict_mode: true")
    sources_file = write_sources(text)

    assert_error(load_error(project_dir), file=sources_file, line=line_of(text, "strict_mode"),
                 field="sources[0].csv.strict_mode",
                 message=f"unknown key 'strict_mode'; allowed keys here: {CSV_KEYS}")


def test_unknown_top_level_key_starting_with_str_is_a_config_error(write_sources, project_dir):
    sources_file = write_sources("streams: []\nsources: []\n")

    assert_error(load_error(project_dir), file=sources_file, line=1, field="streams",
                 message=f"unknown key 'streams'; allowed keys here: {TOP_LEVEL_KEYS}")


def test_duplicate_source_names(write_sources, project_dir):
    text = """\
        sources:
          - name: orders
            type: csv
            csv: {directory: data/a}
          - name: customers
            type: csv
            csv: {directory: data/b}
          - name: orders
            type: csv
            csv: {directory: data/c}
        """
    sources_file = write_sources(text)

    assert_error(load_error(project_dir), file=sources_file, line=8, field="sources[2].name",
                 message="duplicate source name 'orders' (also used by sources[0]); source names must be unique")


@pytest.mark.parametrize(
    "name, message",
    [
        ("Orders", f"source name 'Orders' {NAME_RULE}"),
        ("my-orders", f"source name 'my-orders' {NAME_RULE}"),
        ("1orders", f"source name '1orders' {NAME_RULE}"),
        ('"orders"', f"source name '\"orders\"' {NAME_RULE}"),
        ("o'rders", f"source name 'o'rders' {NAME_RULE}"),
        ("shop/orders", f"source name 'shop/orders' {NAME_RULE}"),
        ("select", "source name 'select' is a reserved SQL word; choose another name (for example 'select_data')"),
        ("table", "source name 'table' is a reserved SQL word; choose another name (for example 'table_data')"),
    ],
)
def test_invalid_source_names(write_sources, project_dir, name, message):
    sources_file = write_sources(one_csv_source(name=json.dumps(name)))

    assert_error(load_error(project_dir), file=sources_file, line=2, field="sources[0].name", message=message)


def test_source_name_with_trailing_newline_is_rejected(write_sources, project_dir):
    sources_file = write_sources(one_csv_source(name="|\n      orders"))

    assert_error(load_error(project_dir), file=sources_file, line=2, field="sources[0].name",
                 message=f"source name 'orders\n' {NAME_RULE}")


def test_invalid_table_name_in_csv_block(write_sources, project_dir):
    text = one_csv_source(block="csv: {directory: data/orders, table: Order-Lines}")
    sources_file = write_sources(text)

    assert_error(load_error(project_dir), file=sources_file, line=4, field="sources[0].csv.table",
                 message=f"table name 'Order-Lines' {NAME_RULE}")


def test_unknown_type_lists_supported_types(write_sources, project_dir):
    sources_file = write_sources(one_csv_source().replace("type: csv", "type: excel"))

    assert_error(load_error(project_dir), file=sources_file, line=3, field="sources[0].type",
                 message="unknown source type 'excel'; supported types: csv, local_files, filesystem, rest_api, stripe, github, hubspot, sql_database, postgres, mysql, dlt_native")


@pytest.mark.parametrize("kind", ["salesforce", "google_sheets", "mongodb", "personio"])
def test_dango_type_not_supported_yet(write_sources, project_dir, kind):
    # the type's own block (Dango writes one) adds no errors of its own: one message
    sources_file = write_sources(one_csv_source().replace("type: csv", f"type: {kind}").replace("csv:", f"{kind}:"))

    assert_error(load_error(project_dir), file=sources_file, line=2, field="sources[0]",
                 message=f"Dango type {kind} is not supported yet; supported: "
                         "csv, local_files, filesystem, rest_api, stripe, github, hubspot, sql_database, postgres, "
                         "mysql, dlt_native")


def test_dango_stripe_source_with_its_block(write_sources, project_dir):
    text = """\
        sources:
          - name: payments
            type: stripe
            enabled: true
            stripe:
              stripe_secret_key_env: STRIPE_API_KEY
        """
    write_sources(text)

    source = load_project(project_dir).source("payments")

    assert source.options.stripe_secret_key_env == "STRIPE_API_KEY"
    assert not source.is_file_source


def test_missing_type_block(write_sources, project_dir):
    sources_file = write_sources("sources:\n  - name: orders\n    type: csv\n    primary_key: id\n")

    assert_error(load_error(project_dir), file=sources_file, line=2, field="sources[0]",
                 message="source 'orders' of type 'csv' needs a 'csv:' block "
                 "(for example: csv: {directory: data/orders})")


def test_block_of_another_type(write_sources, project_dir):
    sources_file = write_sources(one_csv_source(block="csv: {directory: a}\n    local_files: {directory: b}"))

    assert_error(load_error(project_dir), file=sources_file, line=2, field="sources[0]",
                 message="source 'orders' is of type 'csv' but also has a 'local_files:' block")


def test_wrong_write_disposition_lists_allowed_values(write_sources, project_dir):
    text = one_csv_source("write_disposition: upsert")
    sources_file = write_sources(text)

    assert_error(load_error(project_dir), file=sources_file, line=line_of(text, "write_disposition"),
                 field="sources[0].write_disposition",
                 message="Input should be 'append', 'merge' or 'replace' (got 'upsert')")


@pytest.mark.parametrize("schedule", ["every day", "0 6 * *", "@sometimes"])
def test_invalid_schedule(write_sources, project_dir, schedule):
    text = one_csv_source(f"schedule: {json.dumps(schedule)}")
    sources_file = write_sources(text)

    assert_error(load_error(project_dir), file=sources_file, line=line_of(text, "schedule"),
                 field="sources[0].schedule",
                 message=f"'{schedule}' is not a schedule; use a cron expression such as '0 6 * * *' or one of "
                 "@continuous, @daily, @hourly, @monthly, @once, @quarterly, @weekly, @yearly")


def test_out_of_range_cron_is_rejected(write_sources, project_dir):
    text = one_csv_source('schedule: "61 * * * *"')
    sources_file = write_sources(text)

    error = load_error(project_dir)

    assert (error.file, error.line, error.field) == (str(sources_file), 4, "sources[0].schedule")
    assert error.message.startswith("'61 * * * *' is not a schedule")


def test_invalid_defaults_schedule(write_sources, project_dir):
    sources_file = write_sources("defaults:\n  retries: 1\n  schedule: daily\nsources: []\n")

    assert_error(load_error(project_dir), file=sources_file, line=3, field="defaults.schedule",
                 message="'daily' is not a schedule; use a cron expression such as '0 6 * * *' or one of "
                 "@continuous, @daily, @hourly, @monthly, @once, @quarterly, @weekly, @yearly")


def test_directory_escaping_the_project(write_sources, project_dir):
    text = one_csv_source(block="csv:\n      file_pattern: '*.csv'\n      directory: ../shared/orders")
    sources_file = write_sources(text)
    outside = project_dir.parent.resolve() / "shared" / "orders"

    assert_error(load_error(project_dir), file=sources_file, line=line_of(text, "directory"),
                 field="sources[0].csv.directory",
                 message=f"directory '../shared/orders' resolves to '{outside}', outside the project directory "
                 f"({project_dir.resolve()}); move the data into the project or name its directory in "
                 "[dango] allowed_data_roots (AIRFLOW__DANGO__ALLOWED_DATA_ROOTS)")


def test_directory_escape_is_judged_from_the_project_root_not_dot_dango(write_sources, project_dir):
    # from .dango/sources.yml, '../x' would still be inside the project if resolved from .dango/
    text = one_csv_source(block="csv: {directory: ../x}")
    sources_file = write_sources(text, ".dango/sources.yml")

    error = load_error(project_dir)

    assert (error.file, error.line, error.field) == (str(sources_file), 4, "sources[0].csv.directory")
    assert error.message.startswith(f"directory '../x' resolves to '{project_dir.parent.resolve() / 'x'}', outside")


def test_several_errors_are_reported_together(write_sources, project_dir):
    text = """\
        version: '1.0'
        colour: red
        sources:
          - name: Bad-Name
            type: csv
            csv: {directory: data/a}
          - name: b
            type: excel
            csv: {directory: data/b}
          - name: c
            type: csv
            write_disposition: upsert
            csv: {directory: data/c}
        """
    sources_file = write_sources(text)

    error = load_error(project_dir)

    assert isinstance(error, DangoConfigErrors) and isinstance(error, ValueError)
    expected = [
        (2, "colour", f"unknown key 'colour'; allowed keys here: {TOP_LEVEL_KEYS}"),
        (4, "sources[0].name", f"source name 'Bad-Name' {NAME_RULE}"),
        (8, "sources[1].type", "unknown source type 'excel'; supported types: csv, local_files, filesystem, rest_api, stripe, github, hubspot, sql_database, postgres, mysql, dlt_native"),
        (12, "sources[2].write_disposition", "Input should be 'append', 'merge' or 'replace' (got 'upsert')"),
    ]
    assert sorted((e.line, e.field, e.message) for e in error.errors) == expected
    assert all(e.file == str(sources_file) for e in error.errors)
    for line, field, message in expected:
        assert f"{sources_file}:{line}: {field}: {message}" in str(error).splitlines()
    first = error.errors[0]
    assert (error.file, error.line, error.field, error.message) == (first.file, first.line, first.field, first.message)


def test_several_escaping_directories_are_reported_together(write_sources, project_dir):
    text = """\
        sources:
          - name: a
            type: csv
            csv: {directory: ../a}
          - name: b
            type: csv
            csv:
              directory: sub/../../b
        """
    sources_file = write_sources(text)

    error = load_error(project_dir)

    assert isinstance(error, DangoConfigErrors)
    assert [(e.file, e.line, e.field) for e in error.errors] == [
        (str(sources_file), 4, "sources[0].csv.directory"),
        (str(sources_file), 8, "sources[1].csv.directory"),
    ]


@pytest.mark.parametrize("text, kind", [("- orders\n- customers\n", "list"), ("just some text\n", "str")])
def test_file_that_is_not_a_mapping(write_sources, project_dir, text, kind):
    sources_file = write_sources(text)

    assert_error(load_error(project_dir), file=sources_file, line=1, field=None,
                 message=f"the file must be a mapping with a 'sources:' list, not {kind}")


def test_non_utf8_file(write_sources, project_dir):
    # 'Café' saved as latin-1 on line 4
    sources_file = write_sources(b"version: '1.0'\nsources: []\ndefaults:\n  # Caf\xe9\n  retries: 1\n")

    error = load_error(project_dir)

    assert (error.file, error.field) == (str(sources_file), None)
    assert error.message == "file is not UTF-8 text (invalid continuation byte at byte 44)"


def test_non_utf8_file_names_the_line(write_sources, project_dir):
    sources_file = write_sources(b"version: '1.0'\nsources: []\ndefaults:\n  # Caf\xe9\n  retries: 1\n")

    assert_error(load_error(project_dir), file=sources_file, line=4, field=None,
                 message="file is not UTF-8 text (invalid continuation byte at byte 44)")


def test_invalid_start_date_field_path(write_sources, project_dir):
    text = one_csv_source("start_date: someday")
    write_sources(text)

    error = load_error(project_dir)

    errors = error.errors if isinstance(error, DangoConfigErrors) else [error]
    assert {(e.line, e.field) for e in errors} == {(line_of(text, "start_date"), "sources[0].start_date")}


def test_duplicate_yaml_key_is_an_error(write_sources, project_dir):
    text = """\
        sources:
          - name: orders
            type: csv
            csv: {directory: data/orders}
        sources:
          - name: customers
            type: csv
            csv: {directory: data/customers}
        """
    sources_file = write_sources(text)

    error = load_error(project_dir)

    assert (error.file, error.line) == (str(sources_file), 5)
    assert "duplicate key 'sources'" in error.message


def test_lookback_days_on_a_file_source_is_accepted_with_a_note(write_sources, project_dir):
    from dango_provider.config.model import compatibility_notes

    write_sources(one_csv_source("lookback_days: 3"))  # Dango accepts it there

    project = load_project(project_dir)

    assert compatibility_notes(project.config.defaults, project.config.sources[0], dango_project=False) == [
        "lookback_days is ignored: a csv source reads its new and changed files"]


API = "  - name: api\n    type: rest_api\n{extra}    rest_api: {{base_url: 'http://127.0.0.1:1/api', endpoints: [orders]}}\n"


def test_lookback_days_with_append_is_an_error(write_sources, project_dir):
    sources_file = write_sources("sources:\n" + API.format(extra="    lookback_days: 2\n    write_disposition: append\n"))

    assert_error(load_error(project_dir), file=sources_file, line=2, field="sources[0]",
                 message="source 'api': lookback_days reads the days before each interval again, which "
                 "write_disposition append would load twice; use merge (with a primary key) or remove lookback_days")


def test_default_lookback_days_with_an_append_source_is_an_error(write_sources, project_dir):
    sources_file = write_sources("defaults: {lookback_days: 2}\nsources:\n"
                                 + API.format(extra="    write_disposition: append\n"))

    error = load_error(project_dir)
    assert (error.file, error.message) == (
        str(sources_file), "defaults.lookback_days (2) would make source 'api' (write_disposition append) load the "
        "days before each interval twice; set lookback_days: 0 on source 'api' or use merge")
    # the default applies to merge sources and file sources without complaint
    write_sources("defaults: {lookback_days: 2}\nsources:\n" + API.format(extra="")
                  + "  - name: orders\n    type: csv\n    csv: {directory: data/orders}\n")
    assert [s.name for s in load_project(project_dir).config.sources] == ["api", "orders"]
