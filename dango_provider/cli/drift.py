"""``dango drift accept <source>``: accept a source's blocked schema changes."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from dango_provider.cli.common import add_project_option, project_path


def accept_command(project_path: Path, source_name: str, accepted_by: str | None) -> str:
    from dango_provider.config.loader import load_project
    from dango_provider.core.drift_check import accept
    from dango_provider.core.governance_state import describe_changes, drift_blocked, pending_schema, release_drift
    from dango_provider.core.naming import Naming
    from dango_provider.hooks.warehouse import warehouse_for
    from dango_provider.settings import load_settings
    from dango_provider.sources.pipeline import source_state_dir

    project = load_project(project_path)
    source = project.source(source_name)
    state_dir = source_state_dir(project, source)
    changes = drift_blocked(state_dir)
    if changes is None:
        return f"source '{source.name}' has no schema change waiting for acceptance"
    who = accepted_by or getpass.getuser()
    warehouse = warehouse_for(project, lock_timeout=load_settings().lock_timeout)
    with warehouse.write_lock(f"dango drift accept {source.name} by {who}"):
        con = warehouse.connect()
        try:
            events = accept(con, source.name, pending_schema(state_dir), who,
                            journal=Naming.governance_journal(project.root))
        finally:
            con.close()
    release_drift(state_dir)
    return (f"accepted {events} schema change event(s) of source '{source.name}' as {who}: "
            f"{describe_changes(changes)}; dango_transform is released")


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
