"""Database sources (``sql_database``, and Dango's ``postgres`` / ``mysql``): dlt's ``sql_database`` source.

Credentials come from an Airflow connection (``conn_id``) or from an environment variable holding a
SQLAlchemy URL (``credentials_env``). The password is registered with Airflow's secrets masker and
never written into a log line or an error message: URLs are only ever rendered with ``***``.

Per table:

- primary key: the configured one, else the table's primary key constraint (reflected);
- write disposition: the table's, else the source's, else ``defaults``; without any, ``merge`` when
  the table has a primary key, else ``append`` when it has a cursor, else ``replace``;
- cursor (``incremental``): a bounded run reads exactly ``[data_interval_start, data_interval_end)``
  and leaves the stored cursor alone; an unbounded run continues from the stored cursor (the first
  one from the source's ``start_date``); a full refresh reads ``[start_date, now)`` without touching
  the stored cursor. A date cursor reads the whole days an interval touches; a numeric cursor
  (an increasing id) has no relation to time, so it always continues from the stored cursor.
  Rows whose cursor is NULL are read by every run (``merge`` keeps one copy of each).

Tables without a cursor are read in full by every run.
"""

from __future__ import annotations

import importlib.util
import logging
from datetime import UTC, date, datetime, time, timedelta

from dango_provider.config.loader import Project
from dango_provider.config.model import Source, dango_write_disposition
from dango_provider.config.sql_database import SqlDatabaseOptions
from dango_provider.core.times import as_utc
from dango_provider.exceptions import IngestError, MissingCredentialsError
from dango_provider.sources import credentials
from dango_provider.sources.interval import Interval

log = logging.getLogger(__name__)

#: Airflow connection type -> SQLAlchemy driver name
DRIVERS = {
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "mssql": "mssql+pyodbc",
    "oracle": "oracle+oracledb",
    "sqlite": "sqlite",
    "redshift": "postgresql+psycopg2",
}
#: Python module of a database driver -> the package that installs it
DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary", "pymysql": "pymysql", "MySQLdb": "mysqlclient", "pyodbc": "pyodbc",
    "oracledb": "oracledb", "cx_Oracle": "cx_Oracle", "snowflake": "snowflake-sqlalchemy",
}
#: extras of Airflow database connections that configure Airflow hooks, not the database connection
_HOOK_EXTRAS = {"cursor", "iam", "aws_conn_id", "redshift", "redshift-serverless", "cluster-identifier",
                "workgroup-name", "sqlalchemy_scheme", "sqlalchemy_driver", "enable_log_db_messages", "log_sql",
                "client_flags", "local_infile", "unix_socket", "ssl", "ssl_mode"}
CONNECT_TIMEOUT_SECONDS = 30
#: a URL without a driver (``postgresql://``): the drivers tried, in order (SQLAlchemy's default first)
DEFAULT_DRIVERS = {
    "postgresql": (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")),
    "postgres": (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")),
    "mysql": (("MySQLdb", "mysql+mysqldb"), ("pymysql", "mysql+pymysql")),
    "mariadb": (("MySQLdb", "mariadb+mysqldb"), ("pymysql", "mariadb+pymysql")),
}


def build(project: Project, source: Source, interval: Interval):
    """The dlt source of the tables of ``source``, with per-table incremental, key and disposition hints."""
    import sqlalchemy as sa
    from dlt.sources.sql_database import sql_database

    options: SqlDatabaseOptions = source.options
    _check_backend(source, options)
    url, secrets = database_url(source)
    engine = _engine(url, secrets)
    where = _where(url, options)
    tables = _tables_to_load(source, options, engine, where, secrets)
    metadata = sa.MetaData(schema=options.schema_name)
    failure = None
    try:
        dlt_source = sql_database(
            credentials=engine, schema=options.schema_name, metadata=metadata, table_names=tables,
            chunk_size=options.chunk_size, backend=options.backend, reflection_level="full",
            detect_precision_hints=None,
            include_views=options.include_views,
        )
    except sa.exc.SQLAlchemyError as exc:
        failure = IngestError(f"cannot read the tables of {where}: {_cause(exc, secrets)}")
    if failure is not None:  # raised outside the handler: the driver's exception (and its text) stays behind
        raise failure
    log.info("source '%s': reading %d table(s) from %s: %s", source.name, len(tables), where, ", ".join(tables))
    for table_name in tables:
        table = metadata.tables[f"{options.schema_name}.{table_name}" if options.schema_name else table_name]
        _apply_table_hints(project, source, interval, dlt_source.resources[table_name], table)
    return dlt_source


def database_url(source: Source):
    """The SQLAlchemy URL of the source's database and the secrets in it (to keep out of messages)."""
    from sqlalchemy.engine import URL, make_url

    options: SqlDatabaseOptions = source.options
    block = f"{source.type}.credentials_env" if options.credentials_env else f"{source.type}.conn_id"
    if options.credentials_env:
        text = credentials.env_secret(options.credentials_env, source=source.name, field=block)
        try:
            url = make_url(text.strip())
        except Exception:  # the parser's message repeats the whole text, password included: not kept
            url = None
        if url is None:
            raise MissingCredentialsError(
                f"source '{source.name}': environment variable '{options.credentials_env}' ({block}) does not hold "
                "a SQLAlchemy URL; expected for example postgresql://user:password@host:5432/database"
            )
        credentials.mask(url.password)
        return _with_installed_driver(url), [s for s in (text, url.password) if s]

    conn = credentials.connection(options.conn_id or "", source=source.name)
    extra = conn.extra_dejson or {}
    conn_type = (conn.conn_type or "").lower()
    driver = extra.get("sqlalchemy_scheme") or extra.get("sqlalchemy_driver") or DRIVERS.get(conn_type)
    if not driver:
        raise MissingCredentialsError(
            f"source '{source.name}': Airflow connection '{options.conn_id}' has type '{conn.conn_type}', which has "
            "no SQLAlchemy driver known here; set the connection extra 'sqlalchemy_scheme' (for example "
            "postgresql+psycopg2) or use one of the types " + ", ".join(sorted(DRIVERS))
        )
    query = {str(k): str(v) for k, v in extra.items()
             if k not in _HOOK_EXTRAS and isinstance(v, (str, int, float, bool)) and not isinstance(v, dict)}
    if driver.startswith("sqlite"):  # Airflow keeps the database file of a sqlite connection in host
        url = URL.create(driver, database=conn.host or conn.schema or None, query=query)
    else:
        url = URL.create(driver, username=conn.login or None, password=conn.password or None,
                         host=conn.host or None, port=conn.port or None, database=conn.schema or None, query=query)
    return url, [s for s in (conn.password,) if s]


def _with_installed_driver(url):
    """``url`` with an installed driver when it names none (``postgresql://``) and the default one is missing."""
    if "+" in url.drivername:
        return url
    for module, driver in DEFAULT_DRIVERS.get(url.drivername, ()):
        if importlib.util.find_spec(module) is not None:
            return url.set(drivername=driver)
    return url


def _engine(url, secrets: list[str]):
    """A SQLAlchemy engine without a connection pool (no connection outlives the extract)."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    connect_args = {}
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    failure: Exception | None = None
    try:
        return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except ModuleNotFoundError as exc:
        module = (exc.name or "").split(".")[0]
        failure = IngestError(
            f"the database driver '{module}' for {url.drivername} is not installed; install the Python package "
            f"'{DRIVER_PACKAGES.get(module, module)}' into the Airflow environment"
        )
    except Exception as exc:
        failure = IngestError(f"cannot use the database URL {_safe_url(url)}: {_cause(exc, secrets)}")
    raise failure


def _check_backend(source: Source, options: SqlDatabaseOptions) -> None:
    if options.backend == "connectorx" and importlib.util.find_spec("connectorx") is None:
        raise IngestError(
            f"{source.type}.backend is connectorx, but the Python package 'connectorx' is not installed; "
            "install it into the Airflow environment or use backend: pyarrow"
        )


def _tables_to_load(source: Source, options: SqlDatabaseOptions, engine, where: str,
                    secrets: list[str]) -> list[str]:
    """The tables to read; fails naming the missing ones (and what exists) before dlt reflects anything."""
    import sqlalchemy as sa

    schema = options.schema_name
    schemas: list[str] = []
    failure = None
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            schemas = inspector.get_schema_names()
            if schema is None or schema in schemas:
                table_names = set(inspector.get_table_names(schema=schema))
                view_names = set(inspector.get_view_names(schema=schema))
    except sa.exc.DBAPIError as exc:
        failure = IngestError(f"cannot connect to {where}: {_cause(exc, secrets)}")
    if failure is not None:  # raised outside the handler: the driver's exception (and its text) stays behind
        raise failure
    if schema is not None and schema not in schemas:
        raise IngestError(f"schema '{schema}' does not exist in {_safe_url(engine.url)}; schemas there: "
                          + ", ".join(sorted(schemas)))

    wanted = [t.name for t in options.tables]
    if not wanted:
        found = sorted(table_names | (view_names if options.include_views else set()))
        if not found:
            raise IngestError(f"{where} has no tables to load")
        return found
    missing = [t for t in wanted if t not in table_names and t not in view_names]
    if missing:
        existing = ", ".join(sorted(table_names)) or "none"
        raise IngestError(
            ("table " if len(missing) == 1 else "tables ") + ", ".join(f"'{t}'" for t in missing)
            + f" (in {source.type}.tables) not found in {where}; tables there: {existing}"
        )
    return wanted


def _apply_table_hints(project: Project, source: Source, interval: Interval, resource, table) -> None:
    """Primary key, write disposition and incremental cursor of one table's resource."""
    options: SqlDatabaseOptions = source.options
    config = options.table(table.name)
    columns = [c.name for c in table.columns]
    cursor = config.incremental or (options.incremental if options.incremental in columns else None)
    if cursor is not None and cursor not in columns:
        raise IngestError(
            f"table '{table.name}' has no column '{cursor}' (its incremental cursor); columns: " + ", ".join(columns)
        )
    key = config.primary_key or source.primary_key or [c.name for c in table.primary_key.columns]
    key = [key] if isinstance(key, str) else list(key)
    unknown = [k for k in key if k not in columns]
    if unknown:
        raise IngestError(f"table '{table.name}' has no column '{unknown[0]}' (in its primary key); columns: "
                          + ", ".join(columns))
    # a table read in full in a Dango project replaces its table, as Dango's sync does (deletes follow)
    dango = None if cursor else dango_write_disposition(project.config.defaults, source,
                                                        dango_project=project.is_dango_layout)
    disposition = (config.write_disposition or source.write_disposition or project.config.defaults.write_disposition
                   or dango or ("merge" if key else "append" if cursor else "replace"))
    if disposition == "merge" and not key:
        raise IngestError(
            f"table '{table.name}' has write_disposition merge but no primary key (none configured and no "
            "primary key constraint in the database); set primary_key for it or use append or replace"
        )
    hints: dict = {"primary_key": key or None}
    if disposition == "merge":
        hints["write_disposition"] = {"disposition": "merge", "strategy": "delete-insert"}
    else:
        hints["write_disposition"] = disposition
    if cursor is not None:
        hints["incremental"] = _incremental(project, source, interval, table, cursor)
    elif options.incremental:
        log.info("source '%s': table %s has no column %s; it is read in full", source.name, table.name,
                 options.incremental)
    resource.apply_hints(**hints)
    log.info("source '%s': table %s: %s, primary key %s, cursor %s", source.name, table.name, disposition,
             key or "none", cursor or "none (whole table)")


def _incremental(project: Project, source: Source, interval: Interval, table, cursor: str):
    """The dlt cursor of ``table`` for this run (see the module docstring)."""
    import dlt
    import sqlalchemy as sa

    column_type = table.c[cursor].type
    kind = ("datetime" if isinstance(column_type, sa.DateTime)
            else "date" if isinstance(column_type, sa.Date)
            else "number")
    naive = kind == "datetime" and not getattr(column_type, "timezone", False)
    start: datetime | date | None = None
    end: datetime | date | None = None
    if kind != "number":
        first: datetime
        last: datetime | None = None
        if interval.full_refresh:
            first, last = _start_of(project, source), datetime.now(UTC)
        elif interval.bounded:
            first, last = interval.bounds_utc
        else:
            first = _start_of(project, source)
        if kind == "date":
            start = first.date()
            end = None if last is None else (last.date() if last.time() == time(0) else last.date() + timedelta(days=1))
        elif naive:
            start = first.replace(tzinfo=None)
            end = None if last is None else last.replace(tzinfo=None)
        else:
            start, end = first, last
    elif interval.bounded:
        log.info("source '%s': table %s: cursor %s is not a date or time; it continues from the stored cursor "
                 "instead of the data interval", source.name, table.name, cursor)
    if interval.full_refresh and kind == "number":
        return None  # every row, and the stored cursor stays where it was
    return dlt.sources.incremental(cursor, initial_value=start, end_value=end, on_cursor_value_missing="include",
                                   allow_external_schedulers=False)


def _start_of(project: Project, source: Source) -> datetime:
    return as_utc(source.start_date or project.config.defaults.start_date)


def _where(url, options: SqlDatabaseOptions) -> str:
    schema = f"schema '{options.schema_name}' of " if options.schema_name else ""
    return f"{schema}{_safe_url(url)}"


def _safe_url(url) -> str:
    return url.render_as_string(hide_password=True)


def _cause(exc: BaseException, secrets: list[str]) -> str:
    """The database's own words for a failure, on one line, without any secret."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(line.strip() for line in str(orig).strip().splitlines() if line.strip())
    text = text.split(" (Background on this error at:")[0]
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return f"{type(orig).__name__}: {text}" if text else type(orig).__name__
