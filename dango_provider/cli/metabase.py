"""``dango metabase setup``: set Metabase up for the project's serving copy (idempotent)."""

from __future__ import annotations

import argparse

from dango_provider.cli.common import add_json_option, add_project_option, print_json, project_path
from dango_provider.exceptions import DangoError
from dango_provider.metabase.settings import DEFAULT_CONN_ID


def _connection(conn_id: str):
    """The Airflow connection from any of Airflow's secrets backends, its metadata database included."""
    from airflow.models.connection import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        raise DangoError(
            f"no Airflow connection '{conn_id}': add it with the Metabase URL as host and port, the admin's "
            f"email as login and password as password (e.g. `airflow connections add {conn_id} --conn-type "
            "generic --conn-host metabase --conn-port 3000 --conn-login admin@example.com --conn-password ...`)"
        ) from None


def setup_command(project: str | None, conn_id: str) -> dict:
    from dango_provider.config.loader import load_project
    from dango_provider.core.snapshot import serving_path
    from dango_provider.metabase.provision import refresh_metabase
    from dango_provider.metabase.settings import MetabaseSettings

    loaded = load_project(project_path(project))
    settings = MetabaseSettings.from_connection(_connection(conn_id), conn_id)
    return refresh_metabase(settings, serving_path(loaded.warehouse_path), require_serving_copy=False)


def _setup(args: argparse.Namespace) -> int:
    from dango_provider.cli.progress import progress

    with progress():
        report = setup_command(args.project, args.conn_id)
    if args.json:
        print_json(report)
        return 0
    print(f"Metabase {report.get('metabase_version') or ''} at {report['url']}: admin {report['admin']}")
    database = report["database"]
    if database is None:
        print(report["note"])
        return 0
    print(f"database '{database['name']}' (id {database['id']}) {database['action']}: {database['database_file']}")
    print(f"{report['tables']} tables; hidden now: {', '.join(report['hidden']) or 'none'}; "
          "schema sync and field values rescan requested")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    metabase = sub.add_parser("metabase", help="Metabase: set it up for the serving copy",
                              description="Metabase reads the read-only serving copy of the warehouse.")
    commands = metabase.add_subparsers(dest="metabase_command", required=True, metavar="COMMAND")
    setup = commands.add_parser(
        "setup", help="create the admin on first run, add or update the DuckDB database, hide internal tables, sync",
        description="Idempotent: wait for Metabase, create the admin user on its first run (else log in), make "
                    "sure exactly one DuckDB database reads the serving copy read-only, hide dlt's and dango_meta's "
                    "tables, and request a schema sync and a field values rescan. Reads the Airflow connection "
                    "(default metabase_default: host and port of Metabase, the admin's email as login and password "
                    "as password). Without a serving copy yet only the admin is set up.")
    add_project_option(setup)
    setup.add_argument("--conn-id", default=DEFAULT_CONN_ID, metavar="ID",
                       help=f"the Airflow connection of Metabase (default: {DEFAULT_CONN_ID})")
    add_json_option(setup)
    setup.set_defaults(func=_setup)
