"""The ``dango`` command. Exit codes: 0 success, 1 invalid project or failed command, 2 usage error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dango_provider.exceptions import DangoConfigErrors, DangoError


def _validate(args: argparse.Namespace) -> int:
    from dango_provider.config.loader import load_project

    project = load_project(Path(args.path))
    sources = project.config.sources
    print(f"{project.sources_file}: valid, {len(sources)} source(s) "
          f"({sum(s.enabled for s in sources)} enabled): " + ", ".join(s.name for s in sources))
    return 0


def _init(args: argparse.Namespace) -> int:
    from dango_provider.scaffold.init import init_project

    directory = Path(args.directory)
    init_project(directory, demo=args.demo)
    print(f"initialised dango project in {directory.resolve()}" + (" with the demo data" if args.demo else ""))
    if not args.no_pool:
        print(_create_pool())
    print(f"next: export AIRFLOW__DANGO__PROJECT_DIR={directory.resolve()} and put "
          f"{directory.resolve() / 'dags'} in Airflow's DAGs folder")
    return 0


def _drift_accept(args: argparse.Namespace) -> int:
    from dango_provider.cli.drift import accept_command

    from dango_provider.settings import resolve_project_dir

    print(accept_command(resolve_project_dir(args.project), args.source, args.by))
    return 0


def _create_pool() -> str:
    try:
        from dango_provider.plugins.pool_listener import ensure_pool
        from dango_provider.settings import load_settings

        settings = load_settings()
        created = ensure_pool(settings.pool, settings.pool_slots)
    except Exception as exc:  # no Airflow database yet: the scheduler creates the pool at start
        return f"pool not created now ({type(exc).__name__}); the scheduler creates it when it starts"
    return f"pool '{settings.pool}' " + ("created" if created else "already exists")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dango", description="dango-provider: sources.yml to Airflow DAGs.")
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="check sources.yml; print every error with file, line and field")
    validate.add_argument("path", nargs="?", default=".", help="project directory or sources.yml (default: .)")
    validate.set_defaults(func=_validate)
    init = sub.add_parser("init", help="scaffold a project: sources.yml, dbt project, DAG file")
    init.add_argument("directory")
    init.add_argument("--demo", action="store_true", help="add the demo e-commerce data and dbt models")
    init.add_argument("--no-pool", action="store_true", help="do not create the Airflow pool now")
    init.set_defaults(func=_init)
    drift = sub.add_parser("drift", help="schema drift: accept blocked changes").add_subparsers(dest="drift_command",
                                                                                              required=True)
    accept = drift.add_parser("accept", help="accept a source's breaking schema changes; releases dango_transform")
    accept.add_argument("source")
    accept.add_argument("--project", help="project directory or sources.yml (default: [dango] project_dir, else .)")
    accept.add_argument("--by", help="who accepts (default: the current user)")
    accept.set_defaults(func=_drift_accept)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DangoConfigErrors as exc:
        print(f"{len(exc.errors)} errors:\n{exc}", file=sys.stderr)
        return 1
    except DangoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
