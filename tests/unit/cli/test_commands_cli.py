"""``dango validate --json`` and the ``--help`` of every command."""

from __future__ import annotations

import json

import pytest

from dango_provider.cli.main import build_parser
from tests.unit.helpers import run_dango


def test_validate_json_of_a_valid_file(tmp_path):
    sources_file = tmp_path / "sources.yml"
    sources_file.write_text("sources:\n  - name: orders\n    type: csv\n    csv: {directory: data/orders}\n")

    proc = run_dango("validate", str(tmp_path), "--json")

    assert (proc.returncode, proc.stderr) == (0, "")
    assert json.loads(proc.stdout) == {"valid": True, "file": str(sources_file), "sources": ["orders"]}


def test_validate_json_of_an_invalid_file(tmp_path):
    sources_file = tmp_path / "sources.yml"
    sources_file.write_text("sources:\n  - name: Orders\n    type: csv\n    csv: {directory: data/orders}\n"
                            "  - name: refunds\n    type: excel\n    csv: {directory: data/refunds}\n")

    proc = run_dango("validate", str(sources_file), "--json")

    assert (proc.returncode, proc.stderr) == (1, "")
    assert json.loads(proc.stdout) == {"valid": False, "errors": [
        {"file": str(sources_file), "line": 2, "field": "sources[0].name",
         "message": "source name 'Orders' is invalid: use lower-case letters, digits and underscores, starting "
                    "with a letter, at most 63 characters (for example 'shop_orders')"},
        {"file": str(sources_file), "line": 6, "field": "sources[1].type",
         "message": "unknown source type 'excel'; supported types: csv, local_files, filesystem, rest_api, stripe, github, hubspot, sql_database, postgres, mysql, dlt_native"},
    ]}


def test_validate_json_of_a_missing_project(tmp_path):
    proc = run_dango("validate", str(tmp_path / "nope"), "--json")

    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"valid": False, "errors": [
        {"file": None, "line": None, "field": None, "message": f"project path '{tmp_path / 'nope'}' does not exist"}]}


def commands() -> list[tuple[str, ...]]:
    """Every command and command group of the parser, found by walking it."""
    found = [()]

    def walk(parser, prefix):
        for action in parser._actions:
            for name, child in (getattr(action, "choices", None) or {}).items():
                if hasattr(child, "_actions"):
                    found.append((*prefix, name))
                    walk(child, (*prefix, name))

    walk(build_parser(), ())
    return found


def test_the_parser_has_the_commands():
    assert commands() == [(), ("init",), ("validate",), ("source",), ("source", "add"), ("source", "remove"),
                          ("source", "enable"), ("source", "disable"), ("source", "list"),
                          ("status",), ("run",), ("drift",), ("drift", "accept"), ("metabase",),
                          ("metabase", "setup"), ("secrets",), ("secrets", "import")]


@pytest.mark.parametrize("command", commands(), ids=lambda c: " ".join(c) or "dango")
def test_help_of_every_command_exits_0(command):
    proc = run_dango(*command, "--help")

    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith(f"usage: {' '.join(('dango', *command))} ")
    assert "--help" in proc.stdout


def test_a_command_group_without_its_command_is_a_usage_error():
    proc = run_dango("source")

    assert proc.returncode == 2
    assert "the following arguments are required: COMMAND" in proc.stderr
