"""A throw-away database and login on the test MariaDB server (127.0.0.1:3306, root without a password)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pymysql

HOST = "127.0.0.1"
PORT = 3306


def connect(database: str | None = None, user: str = "root", password: str = ""):
    return pymysql.connect(host=HOST, port=PORT, user=user, password=password, database=database,
                           autocommit=True, connect_timeout=10)


@contextmanager
def temporary_database(prefix: str = "dango_src") -> Iterator[tuple[str, str, str]]:
    """Create database ``<prefix>_<random>`` and a login that may read it; yield (database, user, password)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    user, password = f"r_{uuid.uuid4().hex[:8]}", "Mq-" + secrets.token_hex(10)
    admin = connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            cur.execute(f"GRANT SELECT, SHOW VIEW ON `{name}`.* TO '{user}'@'%'")
        yield name, user, password
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


def url(database: str, user: str, password: str, port: int = PORT) -> str:
    return f"mysql://{user}:{password}@{HOST}:{port}/{database}"
