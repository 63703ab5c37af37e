"""``dango init DIR``: scaffold a project."""

from __future__ import annotations

import argparse
from pathlib import Path


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


def _create_pool() -> str:
    try:
        from dango_provider.plugins.pool_listener import ensure_pool
        from dango_provider.settings import load_settings

        settings = load_settings()
        created = ensure_pool(settings.pool, settings.pool_slots)
    except Exception as exc:  # no Airflow database yet: the scheduler creates the pool at start
        return f"pool not created now ({type(exc).__name__}); the scheduler creates it when it starts"
    return f"pool '{settings.pool}' " + ("created" if created else "already exists")


def register(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser("init", help="scaffold a project: sources.yml, dbt project, DAG file",
                          description="Create a project in DIRECTORY: sources.yml, a dbt project, the DAG file "
                                      "and the data folder. Refuses to overwrite an existing sources.yml.")
    init.add_argument("directory", help="the project directory (created when missing)")
    init.add_argument("--demo", action="store_true", help="add the demo e-commerce data and dbt models")
    init.add_argument("--no-pool", action="store_true", help="do not create the Airflow pool now")
    init.set_defaults(func=_init)
