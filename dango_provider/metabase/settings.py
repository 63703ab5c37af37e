"""What the Metabase set-up needs, read from an Airflow connection (``metabase_default`` by default).

The connection: ``host`` (and ``port``) of Metabase, ``schema`` ``https`` for TLS (as Airflow's HTTP
connections do; default ``http``), ``login`` the admin's email, ``password`` the admin's password.
Optional keys of ``extra``:

- ``database_file``: the serving copy's path as Metabase sees it (default: the path Airflow sees,
  which is the case when both mount the project at the same path, as docker-compose.yaml does);
- ``database_name`` (default ``Dango warehouse``), ``site_name``, ``first_name``, ``last_name``;
- ``request_timeout``, ``health_timeout``, ``sync_timeout`` (seconds), ``backoff_initial`` and
  ``backoff_max`` (seconds between health checks, doubling).

This module reads any object with Airflow's connection attributes; it imports no Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from dango_provider.exceptions import DangoError

DEFAULT_CONN_ID = "metabase_default"


@dataclass(frozen=True)
class MetabaseSettings:
    base_url: str
    email: str
    password: str = field(repr=False)
    conn_id: str = DEFAULT_CONN_ID
    database_file: str | None = None
    database_name: str = "Dango warehouse"
    site_name: str = "Dango"
    first_name: str = "Dango"
    last_name: str = "Admin"
    request_timeout: float = 30.0
    health_timeout: float = 300.0
    sync_timeout: float = 300.0
    backoff_initial: float = 1.0
    backoff_max: float = 15.0

    @classmethod
    def from_connection(cls, conn: Any, conn_id: str = DEFAULT_CONN_ID) -> MetabaseSettings:
        where = f"Airflow connection '{conn_id}'"
        host = (conn.host or "").strip().rstrip("/")
        if not host:
            raise DangoError(f"{where}: host is empty; set it to Metabase's host name (e.g. metabase)")
        if not (conn.login or "").strip():
            raise DangoError(f"{where}: login is empty; set it to the Metabase admin's email")
        if not conn.password:
            raise DangoError(f"{where}: password is empty; set it to the Metabase admin's password")
        if "://" in host:
            base_url = host
        else:
            scheme = next((s for s in (conn.schema, conn.conn_type) if s in ("http", "https")), "http")
            base_url = f"{scheme}://{host}"
        if conn.port:
            base_url = f"{base_url}:{int(conn.port)}"
        extra = dict(conn.extra_dejson or {})
        options = {f.name: f for f in fields(cls)}
        allowed = sorted(set(options) - {"base_url", "email", "password", "conn_id"})
        unknown = sorted(set(extra) - set(allowed))
        if unknown:
            raise DangoError(f"{where}: unknown key(s) in extra: {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        values: dict[str, Any] = {}
        for key, value in extra.items():
            if options[key].type == "float":
                try:
                    values[key] = float(value)
                except (TypeError, ValueError):
                    raise DangoError(f"{where}: extra {key} must be a number of seconds, got {value!r}") from None
            elif isinstance(value, str) and value.strip():
                values[key] = value.strip()
            else:
                raise DangoError(f"{where}: extra {key} must be a non-empty string, got {value!r}")
        return cls(base_url=base_url, email=conn.login.strip(), password=conn.password, conn_id=conn_id, **values)
