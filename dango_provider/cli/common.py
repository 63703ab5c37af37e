"""Options and output shared by the ``dango`` commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dango_provider.exceptions import DangoConfigError, DangoConfigErrors, DangoError

PROJECT_HELP = ("project directory or its sources.yml (default: the [dango] project_dir setting, "
                "else the current directory)")


def add_project_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", metavar="PATH", help=PROJECT_HELP)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print JSON on stdout; errors too, as {\"errors\": [{file, line, field, message}]}")


def project_path(explicit: str | None) -> Path:
    """``--project``: relative to the current directory; without it, the [dango] project_dir setting or '.'."""
    if explicit:
        return Path(explicit).expanduser().absolute()
    from dango_provider.settings import resolve_project_dir

    return resolve_project_dir(None)


def error_dicts(exc: DangoError) -> list[dict[str, Any]]:
    errors = exc.errors if isinstance(exc, DangoConfigErrors) else [exc]
    return [
        {"file": e.file, "line": e.line, "field": e.field, "message": e.message}
        if isinstance(e, DangoConfigError) else {"file": None, "line": None, "field": None, "message": str(e)}
        for e in errors
    ]


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_table(header: list[str], rows: list[list[Any]]) -> None:
    """Left-aligned columns separated by two spaces; None prints as '-'."""
    cells = [header] + [["-" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


def yes_no(value: bool) -> str:
    return "yes" if value else "no"
