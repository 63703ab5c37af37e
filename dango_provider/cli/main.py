"""The ``dango`` command. Exit codes: 0 success, 1 invalid project or failed command, 2 usage error.

One module per command group registers its subcommands: init, source (add, remove, enable, disable,
list), status, run, drift, metabase, secrets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dango_provider.cli import drift, init, metabase, run, secrets, sources, status
from dango_provider.cli.common import error_dicts, print_json
from dango_provider.exceptions import DangoConfigErrors, DangoError

EPILOG = "exit codes: 0 success, 1 invalid project or failed command, 2 usage error"


def _validate(args: argparse.Namespace) -> int:
    from dango_provider.config.loader import load_project
    from dango_provider.config.model import compatibility_notes
    from dango_provider.sources.names import check_names

    project = load_project(Path(args.path))
    check_names(project)
    sources_ = project.config.sources
    if args.json:
        print_json({"valid": True, "file": str(project.sources_file), "sources": [s.name for s in sources_]})
        return 0
    print(f"{project.sources_file}: valid, {len(sources_)} source(s) "
          f"({sum(s.enabled for s in sources_)} enabled): " + ", ".join(s.name for s in sources_))
    for source in sources_:
        for note in compatibility_notes(project.config.defaults, source, dango_project=project.is_dango_layout):
            print(f"note: source '{source.name}': {note}")
    from dango_provider.core.dbt_profile import profile_changes

    for change in profile_changes(project.dbt_dir, lake=project.config.warehouse.type == "ducklake"):
        print(f"note: dbt {change}; the runs use a derived copy of profiles.yml")
    for line in directory_report(project):
        print(line)
    from dango_provider.cli.secrets import credential_report

    for line in credential_report(project):
        print(line)
    return 0


def directory_report(project) -> list[str]:
    """A warning per enabled file source whose local directory does not exist (yet): its ingest would find
    no file and fail until it does."""
    lines = []
    for source in project.enabled_sources:
        options = source.options
        if source.type == "filesystem":
            if options.url:
                continue
            written = options.local_directory
        elif source.is_file_source:
            written = options.directory
        else:
            continue
        path = Path(written).expanduser()
        path = path if path.is_absolute() else project.root / path
        if not path.is_dir():
            lines.append(f"warning: source '{source.name}': directory {written} does not exist ({path}); its "
                         "ingest finds no file until it does")
    return lines


def _register_validate(sub: argparse._SubParsersAction) -> None:
    validate = sub.add_parser("validate", help="check sources.yml; print every error with file, line and field",
                              description="Load sources.yml with the real loader and report every error with "
                                          "its file, line and field path; then, per source, whether each "
                                          "credential it names is set where this runs (environment variables, "
                                          "Airflow connections). Exit 1 when it is not valid.")
    validate.add_argument("path", nargs="?", default=".", help="project directory or sources.yml (default: .)")
    validate.add_argument("--json", action="store_true",
                          help='print {"valid": true, "file": PATH, "sources": [NAME, ...]} or '
                               '{"valid": false, "errors": [{file, line, field, message}]}')
    validate.set_defaults(func=_validate, json_failure={"valid": False})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dango", description="dango-provider: sources.yml to Airflow DAGs.",
                                     epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init.register(sub)
    _register_validate(sub)
    sources.register(sub)
    status.register(sub)
    run.register(sub)
    drift.register(sub)
    metabase.register(sub)
    secrets.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DangoError as exc:
        if getattr(args, "json", False):
            print_json({**getattr(args, "json_failure", {}), "errors": error_dicts(exc)})
        elif isinstance(exc, DangoConfigErrors):
            print(f"{len(exc.errors)} errors:\n{exc}", file=sys.stderr)
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
