"""``dango source add`` and ``dango source list`` through the installed console script."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml

from dango_provider.scaffold.templates import SOURCES_YML
from tests.unit.helpers import run_dango

COMMENTED = textwrap.dedent("""\
    # Shop project: one DAG per source.   (header comment)
    version: "1.0"
    defaults:
      schedule: null          # trigger by hand
      retries: 1
    sources:
      # --- files from the shop export ---
      - name: orders
        type: csv
        primary_key: order_id   # natural key
        csv:
          directory: data/orders
          file_pattern: "*.csv"

      # refunds arrive weekly; keep them apart   (custom comment between entries)
      - name: refunds
        type: csv
        csv: {directory: data/refunds}
        # file_pattern stays the default
    # end of sources
    transform:
      governance_timeout: 6h   # how long dango_transform waits
    """)

NEW_ENTRY = (
    "  - name: customers\n"
    "    type: csv\n"
    "    csv:\n"
    "      directory: data/customers\n"
    "      file_pattern: '*.csv'\n"
    "    primary_key: id\n"
    "    schedule: 0 6 * * *\n"
    "    enabled: false\n"
)


def write_project(tmp_path: Path, text: str = COMMENTED) -> Path:
    sources_file = tmp_path / "shop" / "sources.yml"
    sources_file.parent.mkdir()
    sources_file.write_text(text)
    return sources_file


def test_add_keeps_every_byte_of_the_file_and_the_result_validates(tmp_path):
    sources_file = write_project(tmp_path)

    proc = run_dango("source", "add", "csv", "--name", "customers", "--project", str(sources_file.parent),
                     "--set", "csv.directory=data/customers", "--set", "csv.file_pattern=*.csv",
                     "--set", "primary_key=id", "--set", "schedule=0 6 * * *", "--set", "enabled=false")

    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == (f"added source 'customers' to {sources_file} (lines 20-27); "
                           "its DAG is dango_ingest__customers\n")
    text = sources_file.read_text()
    # the entry goes after the last entry and its own (deeper) comment, before the section comment
    marker = "    # file_pattern stays the default\n"
    assert text == COMMENTED.replace(marker, marker + NEW_ENTRY)
    for line in ("# Shop project: one DAG per source.   (header comment)",
                 "  # refunds arrive weekly; keep them apart   (custom comment between entries)",
                 "  schedule: null          # trigger by hand",
                 "    primary_key: order_id   # natural key"):
        assert line + "\n" in COMMENTED and line + "\n" in text

    check = run_dango("validate", str(sources_file))
    assert (check.returncode, check.stderr) == (0, "")
    assert check.stdout.splitlines()[0] == f"{sources_file}: valid, 3 source(s) (2 enabled): orders, refunds, customers"
    added = yaml.safe_load(text)["sources"][2]
    assert added == {"name": "customers", "type": "csv", "enabled": False, "primary_key": "id",
                     "schedule": "0 6 * * *", "csv": {"directory": "data/customers", "file_pattern": "*.csv"}}


def test_add_to_a_new_project_replaces_the_empty_flow_list(tmp_path):
    sources_file = write_project(tmp_path, SOURCES_YML)

    proc = run_dango("source", "add", "csv", "--name", "orders", "--project", str(sources_file),
                     "--set", "csv.directory=data/orders", "--json")

    assert (proc.returncode, proc.stderr) == (0, "")
    assert json.loads(proc.stdout) == {"added": "orders", "file": str(sources_file)}
    assert sources_file.read_text() == SOURCES_YML.replace(
        "sources: []\n", "sources:\n  - name: orders\n    type: csv\n    csv:\n      directory: data/orders\n")


def test_add_with_a_bad_value_prints_file_line_field_and_leaves_the_file_alone(tmp_path):
    sources_file = write_project(tmp_path)
    before = sources_file.read_bytes()

    proc = run_dango("source", "add", "csv", "--name", "customers", "--project", str(sources_file.parent),
                     "--set", "csv.directory=data/customers", "--set", "csv.encoding=ebcdic")

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.splitlines() == [
        f"error: source 'customers' not added; {sources_file} is unchanged. "
        "With the new source at lines 20-24 it would not be valid:",
        f"{sources_file}:24: sources[2].csv.encoding: Input should be 'utf-8', 'utf-16' or 'latin-1' "
        "(got 'ebcdic')",
    ]
    assert sources_file.read_bytes() == before
    assert sorted(p.name for p in sources_file.parent.iterdir()) == ["sources.yml"]  # no temporary file left


def test_add_reports_a_key_that_is_not_spelled_out_as_a_path(tmp_path):
    sources_file = write_project(tmp_path)
    before = sources_file.read_bytes()

    proc = run_dango("source", "add", "csv", "--name", "customers", "--project", str(sources_file.parent),
                     "--set", "directory=data/customers", "--json")

    assert proc.returncode == 1
    (error,) = json.loads(proc.stdout)["errors"]
    assert (error["file"], error["line"], error["field"]) == (str(sources_file), 22, "sources[2].directory")
    assert error["message"].startswith("unknown key 'directory'; allowed keys here: alerts, csv, ")
    assert sources_file.read_bytes() == before


def test_add_rejects_a_duplicate_name_and_an_unknown_type(tmp_path):
    sources_file = write_project(tmp_path)
    before = sources_file.read_bytes()

    duplicate = run_dango("source", "add", "csv", "--name", "orders", "--project", str(sources_file.parent),
                          "--set", "csv.directory=data/more_orders")
    unknown = run_dango("source", "add", "excel", "--name", "sheets", "--project", str(sources_file.parent),
                        "--set", "csv.directory=data/sheets", "--json")

    assert duplicate.returncode == 1
    assert duplicate.stderr.splitlines()[1] == (
        f"{sources_file}:20: sources[2].name: duplicate source name 'orders' (also used by sources[0]); "
        "source names must be unique")
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout) == {"added": None, "file": str(sources_file), "errors": [
        {"file": str(sources_file), "line": 21, "field": "sources[2].type",
         "message": "unknown source type 'excel'; supported types: csv, local_files, filesystem, rest_api, stripe, github, hubspot, sql_database, postgres, mysql, dlt_native"}]}
    assert sources_file.read_bytes() == before


def test_add_usage_errors_exit_2_and_change_nothing(tmp_path):
    sources_file = write_project(tmp_path)
    before = sources_file.read_bytes()
    project = str(sources_file.parent)

    no_equals = run_dango("source", "add", "csv", "--name", "x", "--project", project, "--set", "csv.directory")
    conflict = run_dango("source", "add", "csv", "--name", "x", "--project", project,
                         "--set", "csv=none", "--set", "csv.directory=d")
    name_by_set = run_dango("source", "add", "csv", "--name", "x", "--project", project, "--set", "name=y")
    no_name = run_dango("source", "add", "csv", "--project", project)

    assert [p.returncode for p in (no_equals, conflict, name_by_set, no_name)] == [2, 2, 2, 2]
    assert "argument --set: 'csv.directory' is not KEY=VALUE" in no_equals.stderr
    assert "--set csv.directory=d: 'csv' is already set to a value" in conflict.stderr
    assert "--set name=y: give the name as --name NAME" in name_by_set.stderr
    assert "the following arguments are required: --name" in no_name.stderr
    assert sources_file.read_bytes() == before


def test_add_to_a_missing_project_exits_1(tmp_path):
    proc = run_dango("source", "add", "csv", "--name", "x", "--project", str(tmp_path / "nope"))

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"error: project path '{tmp_path / 'nope'}' does not exist\n"


def test_list_text_and_json(tmp_path):
    sources_file = write_project(tmp_path, textwrap.dedent("""\
        defaults:
          schedule: "@daily"
        sources:
          - name: orders
            type: csv
            primary_key: order_id
            csv: {directory: data/orders}
          - name: refunds
            type: local_files
            enabled: false
            schedule: 0 6 * * *
            write_disposition: replace
            local_files: {directory: data/refunds, format: jsonl}
        """))

    text = run_dango("source", "list", "--project", str(sources_file.parent))
    as_json = run_dango("source", "list", "--project", str(sources_file), "--json")

    assert (text.returncode, text.stderr) == (0, "")
    assert text.stdout.splitlines() == [
        "name     type         enabled  schedule   write disposition  directory",
        "orders   csv          yes      @daily     merge              data/orders",
        "refunds  local_files  no       0 6 * * *  replace            data/refunds",
    ]
    assert (as_json.returncode, as_json.stderr) == (0, "")
    assert json.loads(as_json.stdout) == [
        {"name": "orders", "type": "csv", "enabled": True, "schedule": "@daily", "write_disposition": "merge",
         "directory": "data/orders"},
        {"name": "refunds", "type": "local_files", "enabled": False, "schedule": "0 6 * * *",
         "write_disposition": "replace", "directory": "data/refunds"},
    ]


def test_list_of_an_invalid_project_exits_1_with_json_errors(tmp_path):
    sources_file = write_project(tmp_path, "sources:\n  - name: orders\n    type: csv\n")

    proc = run_dango("source", "list", "--project", str(sources_file.parent), "--json")

    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"errors": [{
        "file": str(sources_file), "line": 2, "field": "sources[0]",
        "message": "source 'orders' of type 'csv' needs a 'csv:' block (for example: csv: {directory: data/orders})",
    }]}


ORDERS_ENTRY = ("  - name: orders\n    type: csv\n    primary_key: order_id   # natural key\n    csv:\n"
                "      directory: data/orders\n      file_pattern: \"*.csv\"\n")


def test_remove_takes_out_the_entry_and_its_own_comments_and_keeps_every_other_byte(tmp_path):
    sources_file = write_project(tmp_path)

    first = run_dango("source", "remove", "orders", "--project", str(sources_file.parent))
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout.startswith(f"removed source 'orders' from {sources_file} (was at line 8); its DAG "
                                   "dango_ingest__orders goes at the next parse. Its tables stay")
    assert sources_file.read_text() == COMMENTED.replace(ORDERS_ENTRY, "")

    last = run_dango("source", "remove", "refunds", "--project", str(sources_file), "--json")
    assert (last.returncode, last.stderr) == (0, "")
    assert json.loads(last.stdout) == {"removed": "refunds", "file": str(sources_file)}
    # the list's comment lines at the dashes' column stay; the one indented under refunds goes with it
    assert sources_file.read_text() == (
        COMMENTED.replace(ORDERS_ENTRY, "").replace("sources:\n", "sources: []\n")
        .replace("  - name: refunds\n    type: csv\n    csv: {directory: data/refunds}\n"
                 "    # file_pattern stays the default\n", ""))
    check = run_dango("validate", str(sources_file))
    assert (check.returncode, check.stdout) == (0, f"{sources_file}: valid, 0 source(s) (0 enabled): \n")


def test_remove_from_a_flow_list_and_an_unknown_name(tmp_path):
    sources_file = write_project(tmp_path, "sources: [{name: a, type: csv, csv: {directory: a}},  "
                                           "{name: b, type: csv, csv: {directory: b}}]  # two\n")

    missing = run_dango("source", "remove", "c", "--project", str(sources_file))
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr.splitlines() == [
        f"error: could not remove source 'c'; {sources_file} is unchanged:",
        f"{sources_file}: sources: no source named 'c' (sources: a, b)"]

    assert run_dango("source", "remove", "b", "--project", str(sources_file)).returncode == 0
    assert sources_file.read_text() == "sources: [{name: a, type: csv, csv: {directory: a}}]  # two\n"
    assert run_dango("source", "remove", "a", "--project", str(sources_file)).returncode == 0
    assert sources_file.read_text() == "sources: []  # two\n"


def test_disable_then_enable_edits_one_line_and_the_dag_follows(tmp_path):
    from dango_provider.config.loader import load_project

    sources_file = write_project(tmp_path)

    off = run_dango("source", "disable", "orders", "--project", str(sources_file.parent))
    assert (off.returncode, off.stderr) == (0, "")
    assert off.stdout.startswith(f"disabled source 'orders' in {sources_file} (line 9); its DAG "
                                 "dango_ingest__orders goes at the next parse")
    disabled = COMMENTED.replace("  - name: orders\n", "  - name: orders\n    enabled: false\n")
    assert sources_file.read_text() == disabled
    assert [s.name for s in load_project(sources_file.parent).enabled_sources] == ["refunds"]

    again = run_dango("source", "disable", "orders", "--project", str(sources_file.parent), "--json")
    assert json.loads(again.stdout) == {"disabled": "orders", "file": str(sources_file), "changed": False}
    assert sources_file.read_text() == disabled

    on = run_dango("source", "enable", "orders", "--project", str(sources_file.parent))
    assert (on.returncode, on.stderr) == (0, "")
    assert sources_file.read_text() == disabled.replace("enabled: false", "enabled: true")
    assert [s.name for s in load_project(sources_file.parent).enabled_sources] == ["orders", "refunds"]

    flow = run_dango("source", "disable", "refunds", "--project", str(sources_file.parent))
    assert flow.returncode == 0
    assert "  - name: refunds\n    enabled: false\n" in sources_file.read_text()


def test_enable_of_a_source_that_would_not_validate_leaves_the_file_alone(tmp_path):
    # enabling a source whose directory climbs out of the project must fail validation, not be written
    text = COMMENTED.replace("csv: {directory: data/refunds}", "csv: {directory: ../../outside}\n    enabled: no")
    sources_file = write_project(tmp_path, text)

    proc = run_dango("source", "enable", "refunds", "--project", str(sources_file.parent))

    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: could not enable source 'refunds'; {sources_file} is unchanged:\n"
                                  f"{sources_file}:")
    assert "outside" in proc.stderr
    assert sources_file.read_text() == text
