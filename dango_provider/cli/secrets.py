"""``dango secrets import``: a Dango project's ``.env`` entries and ``.dlt/secrets.toml`` become Airflow
connections, so the tasks get the credentials without retyping them and without writing them into sources.yml.

``.dlt/secrets.toml`` (dlt's own secrets, used by ``dlt_native`` sources) is kept whole in the connection
``dango_dlt_secrets``, as dlt's environment variable names; a ``dlt_native`` task puts them into its own
environment before calling the source, where dlt's configuration lookup finds them.

Each entry that a source names (``credentials_env: MYSQL_CREDENTIALS``, ``auth_token_env: ...``) is stored
as the Airflow connection of the same name in lower case (``mysql_credentials``, type ``generic``, the
value as its password). Tasks read an environment variable first and that connection when the variable
is not set. A connection, not a variable: Airflow never shows a connection's password in its UI, API or
logs, while a variable's value is shown unless its name looks secret. Values are never printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dango_provider.cli.common import add_project_option, project_path


def named_variables(project) -> dict[str, list[str]]:
    """Environment variable name -> the sources that name it in a ``*_env`` field."""
    from dango_provider.config.credential_names import credential_names

    named: dict[str, list[str]] = {}
    for source in project.config.sources:
        for credential in credential_names(source.options):
            if credential["kind"] == "env":
                named.setdefault(credential["name"], []).append(source.name)
    return named


def read_env_file(path: Path) -> dict[str, str]:
    """The entries of a ``.env`` file (python-dotenv's syntax); variable references are not expanded."""
    from dotenv import dotenv_values

    return {name: value for name, value in dotenv_values(path, interpolate=False).items() if value}


def store_connection(conn_id: str, value: str, description: str) -> str:
    """Create or update Airflow connection ``conn_id`` holding ``value`` as its password; 'created' or 'updated'."""
    from airflow.models import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        existing = session.scalar(select(Connection).where(Connection.conn_id == conn_id))
        if existing is None:
            session.add(Connection(conn_id=conn_id, conn_type="generic", password=value, description=description))
            return "created"
        existing.password = value
        existing.description = description
        return "updated"


def dlt_secret_entries(path: Path) -> dict[str, str]:
    """``.dlt/secrets.toml`` as dlt's environment variable names (``[sources.shop] api_key`` ->
    ``SOURCES__SHOP__API_KEY``); values that are not strings as JSON, which dlt parses back."""
    import json
    import tomllib

    from dango_provider.exceptions import DangoConfigError

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DangoConfigError(f"malformed TOML: {exc}", file=str(path)) from None
    entries: dict[str, str] = {}

    def walk(value, names: list[str]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, [*names, str(key)])
        elif names:
            entries["__".join(n.upper() for n in names)] = value if isinstance(value, str) else json.dumps(value)

    walk(data, [])
    return entries


def _import_dlt_secrets(path: Path, dry_run: bool) -> list[str]:
    import json

    from dango_provider.sources.credentials import DLT_SECRETS_CONN_ID

    entries = dlt_secret_entries(path)
    if not entries:
        return [f"nothing to import from {path.name}: no entries"]
    names = ", ".join(sorted(entries))
    if dry_run:
        return [f"would store {len(entries)} entries of .dlt/secrets.toml as Airflow connection "
                f"'{DLT_SECRETS_CONN_ID}': {names}"]
    outcome = store_connection(DLT_SECRETS_CONN_ID, json.dumps(entries), f"{path}, by dango secrets import")
    return [f"{outcome} Airflow connection '{DLT_SECRETS_CONN_ID}' from .dlt/secrets.toml ({len(entries)} "
            f"entries, read by dlt_native sources as dlt's environment variables): {names}"]


def import_secrets(root: Path, *, every_entry: bool = False, dry_run: bool = False) -> list[str]:
    """Import the ``.env`` entries of the project at ``root`` and its ``.dlt/secrets.toml``; one line per
    entry, without values."""
    from dango_provider.config.loader import load_project
    from dango_provider.exceptions import DangoError
    from dango_provider.sources.credentials import imported_conn_id

    project = load_project(root)
    env_file = project.root / ".env"
    dlt_secrets = project.root / ".dlt" / "secrets.toml"
    if not env_file.is_file() and not dlt_secrets.is_file():
        raise DangoError(f"{project.root}: neither .env nor .dlt/secrets.toml exists; a Dango project keeps its "
                         "credentials there")
    lines = _import_dlt_secrets(dlt_secrets, dry_run) if dlt_secrets.is_file() else []
    if not env_file.is_file():
        return lines
    named = named_variables(project)
    entries = read_env_file(env_file)
    for name, value in entries.items():
        users = named.get(name)
        if not users and not every_entry:
            lines.append(f"skipped {name}: no source names it (--all imports it anyway)")
            continue
        conn_id = imported_conn_id(name)
        used = f" (used by {', '.join(users)})" if users else ""
        if dry_run:
            lines.append(f"would store {name} as Airflow connection '{conn_id}'{used}")
            continue
        outcome = store_connection(conn_id, value, f"{name} from {env_file}, by dango secrets import")
        lines.append(f"{outcome} Airflow connection '{conn_id}' from {name}{used}")
    for name in sorted(set(named) - set(entries)):
        lines.append(f"not in .env: {name} (named by {', '.join(named[name])})")
    return lines


def _import(args: argparse.Namespace) -> int:
    for line in import_secrets(project_path(args.project), every_entry=args.all, dry_run=args.dry_run):
        print(line)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    secrets = sub.add_parser("secrets", help="credentials: import a Dango project's .env as Airflow connections",
                             description="Credentials of the project's sources.")
    commands = secrets.add_subparsers(dest="secrets_command", required=True, metavar="COMMAND")
    imp = commands.add_parser(
        "import", help="store the .env entries that sources name as Airflow connections",
        description="Store each .env entry that a source names in a *_env field as the Airflow connection of the "
                    "same name in lower case (its password). Tasks read the environment variable first, that "
                    "connection when it is not set. Needs Airflow's metadata database (AIRFLOW_HOME or "
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN). Values are never printed.")
    add_project_option(imp)
    imp.add_argument("--all", action="store_true", help="also import entries no source names")
    imp.add_argument("--dry-run", action="store_true", help="say what would be stored; store nothing")
    imp.set_defaults(func=_import)


def _connection_defined(conn_id: str) -> bool | None:
    """Whether Airflow knows connection ``conn_id`` (environment, secrets backend or metadata database); None
    when Airflow's metadata database cannot be asked from here."""
    try:
        from airflow.exceptions import AirflowNotFoundException
        from airflow.models import Connection

        Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        return False
    except Exception:
        return None
    return True


def credential_report(project) -> list[str]:
    """One line per credential a source names: whether it is set where this command runs. Never a value."""
    import os

    from dango_provider.config.credential_names import credential_names
    from dango_provider.sources.credentials import imported_conn_id

    lines = []
    for source in project.config.sources:
        for credential in credential_names(source.options):
            name = credential["name"]
            if credential["kind"] == "env":
                if os.environ.get(name):
                    state = "set in this environment"
                else:
                    defined = _connection_defined(imported_conn_id(name))
                    state = (f"stored as Airflow connection '{imported_conn_id(name)}'" if defined else
                             "not set here (the Airflow workers need it; `dango secrets import` stores a Dango "
                             "project's .env entry)" if defined is False else
                             "not set here; Airflow's connections could not be checked")
                lines.append(f"credentials: source '{source.name}': environment variable {name}: {state}")
            else:
                defined = _connection_defined(name)
                state = ("defined" if defined else "not defined (`airflow connections add` or AIRFLOW_CONN_"
                         f"{name.upper()})" if defined is False else "could not be checked")
                lines.append(f"credentials: source '{source.name}': Airflow connection {name}: {state}")
    return lines + _alert_connection_report(project) + _warehouse_report(project)


def _warehouse_report(project) -> list[str]:
    """The DuckLake's catalog connection and its extension packages, when the warehouse is a lake."""
    from dango_provider.exceptions import DangoError

    block = project.config.warehouse
    if block.type != "ducklake":
        return []
    defined = _connection_defined(block.catalog)
    state = ("defined" if defined else "not defined (`airflow connections add` or AIRFLOW_CONN_"
             f"{block.catalog.upper()})" if defined is False else "could not be checked")
    lines = [f"credentials: warehouse: Airflow connection {block.catalog} (DuckLake catalog): {state}"]
    try:
        from dango_provider.core.duckdb_extensions import extension_directory

        extension_directory("ducklake", "postgres_scanner")
    except DangoError as exc:
        lines.append(f"warning: warehouse: {exc}")
    return lines


def _alert_connection_report(project) -> list[str]:
    """One line per Airflow connection an alert sends through (the default SMTP connection not included)."""
    names = sorted({alert.connection
                    for alerts in [project.config.defaults.alerts, *(s.alerts or [] for s in project.config.sources)]
                    for alert in alerts if alert.connection})
    lines = []
    for name in names:
        defined = _connection_defined(name)
        state = ("defined" if defined else "not defined (`airflow connections add` or AIRFLOW_CONN_"
                 f"{name.upper()})" if defined is False else "could not be checked")
        lines.append(f"credentials: alerts: Airflow connection {name}: {state}")
    return lines
