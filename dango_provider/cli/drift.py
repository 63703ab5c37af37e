"""``dango drift accept <source>``: accept a source's blocked schema changes."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from dango_provider.cli.common import add_project_option, project_path


def accept_command(project_path: Path, source_name: str, accepted_by: str | None) -> str:
    from dango_provider.config.loader import load_project
    from dango_provider.hooks.drift_accept import accept_drift

    return accept_drift(load_project(project_path), source_name, accepted_by or getpass.getuser())


def _accept(args: argparse.Namespace) -> int:
    print(accept_command(project_path(args.project), args.source, args.by))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    drift = sub.add_parser("drift", help="schema drift: accept blocked changes",
                           description="Schema drift: accept the breaking changes that block a source.")
    commands = drift.add_subparsers(dest="drift_command", required=True, metavar="COMMAND")
    accept = commands.add_parser(
        "accept", help="accept a source's breaking schema changes; releases dango_transform",
        description="Record the breaking schema changes that block SOURCE as accepted (in dango_meta, under "
                    "the warehouse write lock) and release dango_transform.")
    accept.add_argument("source", metavar="SOURCE", help="the blocked source")
    add_project_option(accept)
    accept.add_argument("--by", metavar="NAME", help="who accepts (default: the current user)")
    accept.set_defaults(func=_accept)
