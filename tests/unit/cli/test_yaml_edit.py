"""The sources.yml splice behind ``dango source add``, and ``--set`` parsing (in process: fast)."""

from __future__ import annotations

import argparse
from datetime import date

import pytest
import yaml

from dango_provider.cli.sources import Assignment, add_source, build_entry, parse_value
from dango_provider.cli.yaml_edit import FlowList, append_source
from dango_provider.exceptions import DangoConfigError

ENTRY = {"name": "n", "type": "csv", "csv": {"directory": "d"}}


def appended(text: str, entry: dict = ENTRY) -> str:
    new = append_source(text, entry, file="sources.yml").text
    old = yaml.safe_load(text) or {}
    assert yaml.safe_load(new) == {**old, "sources": list(old.get("sources") or []) + [entry]}
    return new


@pytest.mark.parametrize("text, expected", [
    ("", "sources:\n  - name: n\n    type: csv\n    csv:\n      directory: d\n"),
    ("# only a comment\n", "# only a comment\nsources:\n  - name: n\n    type: csv\n    csv:\n      directory: d\n"),
    ("version: 1\nwarehouse:\n    path: w.duckdb",  # no sources key, 4-space blocks, no final newline
     "version: 1\nwarehouse:\n    path: w.duckdb\nsources:\n    - name: n\n      type: csv\n      csv:\n"
     "          directory: d\n"),
    ("sources: null   # none yet\ndbt: {}\n",
     "sources:   # none yet\n  - name: n\n    type: csv\n    csv:\n      directory: d\ndbt: {}\n"),
    ("sources:\ndbt: {}\n", "sources:\n  - name: n\n    type: csv\n    csv:\n      directory: d\ndbt: {}\n"),
    ("sources: [\n]\nx: 1\n", "sources:\n  - name: n\n    type: csv\n    csv:\n      directory: d\nx: 1\n"),
])
def test_empty_or_missing_sources_becomes_a_block_list(text, expected):
    assert appended(text) == expected


def test_indentless_list_and_comments_after_the_last_entry():
    text = ("sources:\n- name: a\n  type: csv\n  csv:\n    directory: a\n  # a's own comment\n\n"
            "# section comment\ntransform: {}\n")
    assert appended(text) == text.replace(
        "  # a's own comment\n", "  # a's own comment\n- name: n\n  type: csv\n  csv:\n    directory: d\n")


def test_wide_indentation_and_block_scalars_are_followed():
    text = ("sources:\n    -   name: a\n        description: |+\n            kept\n\n"
            "        csv:\n            directory: a\n")
    assert appended(text) == text + "    -   name: n\n        type: csv\n        csv:\n            directory: d\n"


def test_crlf_line_endings_are_kept():
    text = "sources:\r\n  - name: a\r\n    type: csv\r\n    csv: {directory: a}\r\n"
    new = appended(text)
    assert new == text + "  - name: n\r\n    type: csv\r\n    csv:\r\n      directory: d\r\n"


def test_a_non_empty_flow_list_gets_a_flow_entry():
    text = "sources: [{name: a, type: csv, csv: {directory: a}}, ]  # flow\n"
    assert appended(text) == ("sources: [{name: a, type: csv, csv: {directory: a}}, "
                              "{name: n, type: csv, csv: {directory: d}}, ]  # flow\n")


def test_strings_the_loader_would_misread_are_quoted():
    entry = {"name": "n", "type": "csv", "description": "yes", "tags": FlowList(["on", "1:30", "0o7"]),
             "csv": {"directory": "d", "file_pattern": "*.csv", "table": None}, "start_date": date(2024, 1, 2)}
    new = appended("sources: []\n", entry)
    assert "description: 'yes'\n" in new and "tags: ['on', '1:30', '0o7']\n" in new
    assert "table: null\n" in new and "start_date: 2024-01-02\n" in new
    block = appended("sources: []\n", {**entry, "tags": ["on"]})  # a list not typed in flow style
    assert "    tags:\n      - 'on'\n" in block


def test_line_numbers_map_back_to_the_original_file():
    text = "sources:\n  - name: a\n    csv: {directory: a}\ntransform:\n  poll_interval: 30s\n"
    edit = append_source(text, ENTRY, file="sources.yml")
    assert (edit.first_line, edit.last_line) == (4, 7)
    assert [edit.original_line(n) for n in (2, 4, 7, 8, 9)] == [2, 4, 7, 4, 5]


@pytest.mark.parametrize("text", ["- a\n- b\n", "{sources: []}\n", "sources: {a: 1}\n"])
def test_no_place_for_an_entry(text):
    with pytest.raises(DangoConfigError):
        append_source(text, ENTRY, file="sources.yml")


@pytest.mark.parametrize("raw, value", [
    ("true", True), ("12", 12), ("1.5", 1.5), ("null", None), ("", None), ('"12"', "12"), ("'true'", "true"),
    ("*.csv", "*.csv"), ("0 6 * * *", "0 6 * * *"), ("data/x", "data/x"), ("# note", "# note"),
    ("a: b", "a: b"), ("- x", "- x"), ("[id, day]", ["id", "day"]), ("{on_breaking: warn}", {"on_breaking": "warn"}),
    ("2024-01-02", date(2024, 1, 2)),
])
def test_set_values_are_yaml_scalars(raw, value):
    assert parse_value(raw) == value


def test_build_entry_orders_keys_and_refuses_conflicts():
    sets = [Assignment(t) for t in ("csv.directory=d", "primary_key=id", "csv.file_pattern=*.tsv")]
    assert list(build_entry("csv", "n", sets).items()) == [
        ("name", "n"), ("type", "csv"), ("csv", {"directory": "d", "file_pattern": "*.tsv"}), ("primary_key", "id")]
    for texts, message in [
        (("csv.directory=a", "csv.directory=b"), "'csv.directory' is set more than once"),
        (("csv={directory: a}", "csv.file_pattern=x"), "'csv' is already set to a value"),
        (("type=local_files",), "give the type as the TYPE argument"),
    ]:
        with pytest.raises(ValueError, match=message):
            build_entry("csv", "n", [Assignment(t) for t in texts])
    for bad in ("novalue", "=x", "csv..directory=x"):
        with pytest.raises(argparse.ArgumentTypeError):
            Assignment(bad)


def test_add_source_validates_a_temporary_copy_in_a_dango_folder(tmp_path):
    sources_file = tmp_path / ".dango" / "sources.yml"
    sources_file.parent.mkdir()
    sources_file.write_text("sources:\n  - name: a\n    type: csv\n    csv: {directory: data/a}\n")
    sources_file.chmod(0o640)

    add_source(sources_file, {"name": "b", "type": "csv", "csv": {"directory": "data/b"}})
    with pytest.raises(DangoConfigError, match="outside the project directory"):
        # relative to the project root (the parent of .dango), as the loader resolves it
        add_source(sources_file, {"name": "c", "type": "csv", "csv": {"directory": "../c"}})

    assert sources_file.read_text().endswith("  - name: b\n    type: csv\n    csv:\n      directory: data/b\n")
    assert sources_file.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in sources_file.parent.iterdir()) == ["sources.yml"]


def test_add_source_to_a_symlinked_file_replaces_its_target(tmp_path):
    real = tmp_path / "shared" / "sources.yml"
    real.parent.mkdir()
    real.write_text("sources: []\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "sources.yml").symlink_to(real)

    add_source(project / "sources.yml", {"name": "b", "type": "csv", "csv": {"directory": "data/b"}})

    assert (project / "sources.yml").is_symlink()
    assert real.read_text() == "sources:\n  - name: b\n    type: csv\n    csv:\n      directory: data/b\n"
    assert sorted(p.name for p in real.parent.iterdir()) == ["sources.yml"]
    assert sorted(p.name for p in project.iterdir()) == ["sources.yml"]


def test_add_source_to_malformed_yaml_reports_the_loaders_error(tmp_path):
    sources_file = tmp_path / "sources.yml"
    sources_file.write_text("sources:\n  - name: a\n   type: csv\n")

    with pytest.raises(DangoConfigError) as caught:
        add_source(sources_file, ENTRY)

    assert (caught.value.file, caught.value.line) == (str(sources_file), 3)
    assert caught.value.message.startswith("malformed YAML")
    assert sources_file.read_text() == "sources:\n  - name: a\n   type: csv\n"
