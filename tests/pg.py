"""A throw-away database on the test PostgreSQL server (127.0.0.1:5432, trust auth, user postgres)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2

HOST = "127.0.0.1"
PORT = 5432
USER = "postgres"


def connect(database: str = "postgres"):
    connection = psycopg2.connect(host=HOST, port=PORT, user=USER, dbname=database, connect_timeout=10)
    connection.autocommit = True
    return connection


@contextmanager
def temporary_database(prefix: str = "dango_src") -> Iterator[str]:
    """Create database ``<prefix>_<random>``, yield its name, drop it (closing other sessions) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def url(database: str, password: str | None = None, port: int = PORT) -> str:
    """A connection URI of ``database`` (trust auth: a password is accepted and ignored by the server)."""
    secret = f":{password}" if password else ""
    return f"postgresql://{USER}{secret}@{HOST}:{port}/{database}"
