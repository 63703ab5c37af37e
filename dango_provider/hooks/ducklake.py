"""DuckLake warehouse access: the catalog in PostgreSQL (an Airflow connection), the data as Parquet files
under a shared path, many writers on many machines.

Every connection is an in-memory DuckDB that loads the packaged ``ducklake`` and ``postgres_scanner``
extensions (``core.duckdb_extensions``; nothing is downloaded) and attaches the lake as ``LAKE_ALIAS``.
DuckLake commits are transactions checked against the catalog, so writers need no file lock:
``write_lock`` guards nothing, and a commit that conflicts with another writer's is retried a bounded
number of times by ``transaction``. See decision 0011.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from dango_provider.core.dbt_profile import CATALOG_ENV, LAKE_ALIAS, LAKE_ENV
from dango_provider.core.duckdb_config import OFFLINE
from dango_provider.core.naming import quote_identifier, quote_literal
from dango_provider.core.secret_text import scrub_url_credentials
from dango_provider.exceptions import DangoError
from dango_provider.hooks.warehouse import Warehouse
from dango_provider.settings import DEFAULT_LOCK_TIMEOUT

SERVING_ALIAS = "dango_serving_copy"
EXTENSIONS = ("ducklake", "postgres_scanner")
#: attempts of a transaction whose commit conflicts with a concurrent one
COMMIT_ATTEMPTS = 5
T = TypeVar("T")


#: what PostgreSQL says to the losers of concurrent creations of one catalog: ``CREATE SCHEMA IF NOT EXISTS``
#: and ``CREATE TABLE`` are not safe against a concurrent one (a unique index of pg_namespace or pg_type,
#: or the relation a winner created while this one checked)
_CREATION_RACE = ("duplicate key value", "already exists")


def _lost_creation_race(exc: BaseException) -> bool:
    """The first attaches of a new lake raced to create its catalog in PostgreSQL and this one lost: attach
    again (the catalog is then there, or its creator's transaction is still open and the next try waits)."""
    text = str(exc)
    return "Failed to initialize DuckLake" in text and any(sign in text for sign in _CREATION_RACE)


#: what DuckLake 0.3 says instead of checking a commit for conflicts when two or more snapshots were
#: committed since its transaction began, one of them creating several tables (``governance_meta.DDL``):
#: it fails to read their changes back; a fresh transaction begins after them and commits
_UNREAD_CONCURRENT_CHANGES = "Failed to parse catalog entry"


def is_conflict(exc: BaseException) -> bool:
    """A DuckLake commit refused because concurrent transactions committed first: a conflicting change,
    or changes DuckLake could not check the commit against."""
    import duckdb

    text = str(exc)
    return isinstance(exc, duckdb.TransactionException) and (
        "conflict" in text.lower()
        or ("Failed to commit DuckLake transaction" in text and _UNREAD_CONCURRENT_CHANGES in text))


class DuckLakeHook(Warehouse):
    """Access to a DuckLake whose catalog is the PostgreSQL database of Airflow connection ``catalog_conn_id``.

    :param catalog_conn_id: an Airflow connection to PostgreSQL (host, port, login, password, schema =
        the database)
    :param data_path: where the lake's Parquet files live (a path every worker reaches)
    :param metadata_schema: the PostgreSQL schema of the catalog tables (one lake per schema)
    """

    engine = "duckdb"

    def __init__(self, catalog_conn_id: str, data_path: str | Path, *, metadata_schema: str = LAKE_ALIAS,
                 lock_timeout: float | None = None):
        self.catalog_conn_id = catalog_conn_id
        self.data_path = Path(data_path)
        self.metadata_schema = metadata_schema
        self.lock_timeout = DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout

    def catalog_url(self) -> str:
        """``postgres://user:password@host:port/database`` of the catalog (its secrets masked in task logs)."""
        from dango_provider.sources.credentials import connection

        conn = connection(self.catalog_conn_id, source="warehouse")
        if not conn.host or not conn.schema:
            raise DangoError(f"warehouse: Airflow connection '{self.catalog_conn_id}' needs a host and a database "
                             "(the connection's schema) for the DuckLake catalog")
        userinfo = quote(conn.login or "", safe="") + (f":{quote(conn.password, safe='')}" if conn.password else "")
        port = f":{conn.port}" if conn.port else ""
        return f"postgres://{userinfo}{'@' if userinfo else ''}{conn.host}{port}/{quote(conn.schema, safe='')}"

    def attach_statement(self, *, read_only: bool = False) -> str:
        options = [f"DATA_PATH {quote_literal(str(self.data_path))}",
                   f"METADATA_SCHEMA {quote_literal(self.metadata_schema)}"]
        if read_only:
            options.append("READ_ONLY")
        return (f"ATTACH {quote_literal('ducklake:postgres:' + self.catalog_url())} AS {quote_identifier(LAKE_ALIAS)} "
                f"({', '.join(options)})")

    def write_lock(self, owner: str) -> AbstractContextManager[float]:
        """Nothing to hold: DuckLake commits are transactions (see ``transaction``)."""

        @contextmanager
        def unguarded() -> Iterator[float]:
            yield 0.0

        return unguarded()

    def connect(self, *, read_only: bool = False) -> Any:
        import duckdb

        from dango_provider.core.duckdb_extensions import packaged_config

        if not read_only:
            self.data_path.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            con = duckdb.connect(config=packaged_config(*EXTENSIONS))
            try:
                for name in EXTENSIONS:
                    con.execute(f"LOAD {name}")
                con.execute(self.attach_statement(read_only=read_only))
                con.execute(f"USE {quote_identifier(LAKE_ALIAS)}")
                return con
            except duckdb.Error as exc:
                con.close()
                if _lost_creation_race(exc) and attempt < COMMIT_ATTEMPTS:
                    time.sleep(0.2 * attempt * (0.5 + random.random()))
                    continue
                # DuckDB's message quotes the catalog URL, password included
                raise DangoError(f"cannot attach the DuckLake of Airflow connection '{self.catalog_conn_id}' "
                                 f"(data under {self.data_path}): {scrub_url_credentials(str(exc))}") from None
        raise AssertionError("unreachable")

    def transaction(self, work: Callable[[Any], T], *, attempts: int = COMMIT_ATTEMPTS) -> T:
        """``work(connection)`` in one transaction, committed; run again on a fresh transaction while its
        commit conflicts with a concurrent writer's, at most ``attempts`` times (then the conflict is raised)."""
        con = self.connect()
        try:
            for attempt in range(1, attempts + 1):
                con.execute("BEGIN TRANSACTION")
                try:
                    result = work(con)
                    con.execute("COMMIT")
                    return result
                except Exception as exc:
                    try:
                        con.execute("ROLLBACK")
                    except Exception:  # noqa: S110 - a failed commit has already ended the transaction
                        pass
                    if not is_conflict(exc) or attempt == attempts:
                        raise
                    time.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random()))
            raise AssertionError("unreachable")
        finally:
            con.close()

    def publish(self, target) -> dict:
        """The lake as one DuckDB file for readers: ``COPY FROM DATABASE`` of one snapshot (one statement, one
        transaction) into a new file in the serving storage version, then ``core.snapshot.publish_copy``."""
        from dango_provider.core.snapshot import publish_copy, writable_storage_version
        from dango_provider.metabase.versions import SERVING_STORAGE_VERSION

        storage_version = writable_storage_version(SERVING_STORAGE_VERSION)

        def write(tmp: Path) -> str:
            con = self.connect(read_only=True)
            try:
                con.execute(f"ATTACH {quote_literal(str(tmp))} AS {quote_identifier(SERVING_ALIAS)} "
                            f"(STORAGE_VERSION {quote_literal(storage_version)})")
                con.execute(f"COPY FROM DATABASE {quote_identifier(LAKE_ALIAS)} TO {quote_identifier(SERVING_ALIAS)}")
                con.execute(f"DETACH {quote_identifier(SERVING_ALIAS)}")
            finally:
                con.close()
            return "lake copy"

        return publish_copy(write, Path(target), source=f"the DuckLake of connection '{self.catalog_conn_id}'")

    def dlt_destination(self):
        import dlt
        from dlt.destinations.impl.ducklake.configuration import DuckLakeCredentials

        from dango_provider.core.duckdb_extensions import extension_file

        credentials = DuckLakeCredentials(LAKE_ALIAS, metadata_schema=self.metadata_schema,
                                          catalog=self.catalog_url(), storage=str(self.data_path))
        # dlt runs LOAD for each extension before its global config: the files are named by path, so the
        # load needs no extension directory (and never an INSTALL)
        credentials.extensions = [quote_literal(str(extension_file(name))) for name in EXTENSIONS]
        credentials.global_config = dict(OFFLINE)
        return dlt.destinations.ducklake(credentials=credentials)

    def dbt_env(self) -> dict[str, str]:
        """What ``core.dbt_profile.LAKE_OUTPUT`` reads, secrets left out (this may be shown: task parameters, rendered templates);
        the catalog URL is ``dbt_secret_env``, set in the process only when dbt runs."""
        from dango_provider.core.duckdb_extensions import extension_directory

        return {"DANGO_LAKE_DATA_PATH": str(self.data_path), "DANGO_LAKE_METADATA_SCHEMA": self.metadata_schema,
                "DANGO_DUCKDB_EXTENSION_DIRECTORY": str(extension_directory(*EXTENSIONS)),
                LAKE_ENV: self.catalog_conn_id}

    def dbt_secret_env(self) -> dict[str, str]:
        """The catalog URL for ``LAKE_OUTPUT``: a ``DBT_ENV_SECRET_`` variable, which dbt scrubs from its logs."""
        return {CATALOG_ENV: "ducklake:postgres:" + self.catalog_url()}
