"""Idempotent Metabase set-up and refresh for the serving copy (Metabase v0.63 API).

Each run: wait for ``GET /api/health``; create the admin with ``POST /api/setup`` on the first run
(the setup token comes from ``GET /api/session/properties``), else log in with ``POST /api/session``;
make sure exactly one DuckDB database reads the serving copy (``POST /api/database`` when missing,
``PUT /api/database/:id`` when its details differ); request a schema sync and wait until Metabase lists
the copy's tables; hide dlt's and ``dango_meta``'s tables (``PUT /api/table/:id``); request a rescan of
field values. A second run against an unchanged copy only syncs and rescans.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from dango_provider.exceptions import DangoError
from dango_provider.metabase.client import MetabaseClient
from dango_provider.metabase.serving_copy import ServingCopy, is_internal, read_serving_copy
from dango_provider.metabase.settings import MetabaseSettings

log = logging.getLogger(__name__)

ENGINE = "duckdb"


def refresh_metabase(settings: MetabaseSettings, serving: Path, *, require_serving_copy: bool = True) -> dict[str, Any]:
    """Set Metabase up for the serving copy at ``serving`` (the path this process sees) and refresh it.

    Without a serving copy yet: with ``require_serving_copy`` an error, else only the admin is set up
    (the database is added by the first refresh after a publish). Returns a report without secrets.
    """
    copy = read_serving_copy(serving) if serving.is_file() else None
    if copy is None and require_serving_copy:
        raise DangoError(f"the serving copy '{serving}' does not exist: publish it before refreshing Metabase")
    with MetabaseClient(settings) as client:
        report: dict[str, Any] = {"url": settings.base_url, "health_checks": client.wait_until_healthy()}
        report["admin"], report["metabase_version"] = open_session(client)
        if copy is None:
            report["database"] = None
            report["note"] = f"no serving copy at {serving} yet: the database is added after the first publish"
            return report
        database_file = settings.database_file or str(serving)
        database, action = ensure_database(client, copy, database_file)
        database_id = database["id"]
        report["database"] = {"id": database_id, "name": database.get("name"), "engine": ENGINE,
                              "database_file": database_file, "action": action}
        client.call("schema sync", "POST", f"/api/database/{database_id}/sync_schema")
        tables = wait_for_tables(client, database_id, copy)
        report["tables"] = sum(1 for t in tables if t.get("active", True))
        report["hidden"] = hide_internal_tables(client, tables)
        client.call("field values rescan", "POST", f"/api/database/{database_id}/rescan_values")
        report["sync"] = report["rescan"] = "requested"
        return report


def open_session(client: MetabaseClient) -> tuple[str, str | None]:
    """First run: create the admin (``POST /api/setup``); later runs: log in. Returns (how, Metabase version)."""
    settings = client.settings
    properties = client.call("read of the set-up state", "GET", "/api/session/properties") or {}
    version = (properties.get("version") or {}).get("tag")
    token = properties.get("setup-token")
    if not properties.get("has-user-setup"):
        if not token:
            raise DangoError("Metabase first-run setup failed: GET /api/session/properties reports no admin user "
                             "and no setup-token")
        body = {
            "token": token,
            "user": {"email": settings.email, "password": settings.password,
                     "first_name": settings.first_name, "last_name": settings.last_name},
            "prefs": {"site_name": settings.site_name},
        }
        session = client.call("first-run setup", "POST", "/api/setup", json_body=body)
        client.session_id = _session_id(session, "first-run setup", "POST /api/setup")
        log.info("Metabase %s: created the admin user %s", version or "", settings.email)
        return "created", version
    try:
        session = client.call("log in", "POST", "/api/session",
                              json_body={"username": settings.email, "password": settings.password})
    except DangoError as exc:
        raise DangoError(f"{exc} (check the login and password of Airflow connection '{settings.conn_id}')") from None
    client.session_id = _session_id(session, "log in", "POST /api/session")
    return "existing", version


def ensure_database(client: MetabaseClient, copy: ServingCopy, database_file: str) -> tuple[dict, str]:
    """Exactly one DuckDB database named ``database_name`` or reading ``database_file``; (database, action)."""
    settings = client.settings
    listing = client.call("list of databases", "GET", "/api/database")
    databases = listing.get("data", []) if isinstance(listing, dict) else (listing or [])
    ours = [d for d in databases if d.get("engine") == ENGINE and (
        d.get("name") == settings.database_name or (d.get("details") or {}).get("database_file") == database_file)]
    desired = {"database_file": database_file, "read_only": True, "init_sql": copy.init_sql}
    if len(ours) > 1:
        ids = ", ".join(str(d.get("id")) for d in ours)
        raise DangoError(
            f"Metabase list of databases: GET /api/database returned {len(ours)} DuckDB databases named "
            f"'{settings.database_name}' or reading '{database_file}' (ids {ids}); keep one and remove the others "
            "in Metabase's Admin settings > Databases")
    if not ours:
        created = client.call("adding the DuckDB database", "POST", "/api/database", json_body={
            "name": settings.database_name, "engine": ENGINE, "details": desired, "is_full_sync": True})
        log.info("Metabase: added database '%s' (id %s) reading %s", settings.database_name, created.get("id"), database_file)
        return created, "created"
    database = ours[0]
    current = database.get("details") or {}
    changed = sorted(key for key, value in desired.items() if current.get(key) != value)
    if not changed:
        return database, "unchanged"
    updated = client.call("update of the DuckDB database", "PUT", f"/api/database/{database['id']}",
                          json_body={"details": {**current, **desired}})
    log.info("Metabase: updated %s of database '%s' (id %s)", ", ".join(changed), database.get("name"), database["id"])
    return updated, "updated " + ", ".join(changed)


def wait_for_tables(client: MetabaseClient, database_id: int, copy: ServingCopy) -> list[dict]:
    """Poll the database's metadata (hidden tables included) until it lists every table of the copy.

    A schema sync runs in the background in Metabase; its tables appear as it goes (the copy's views
    come with the same pass; only tables are awaited). Seeing a table that only the new copy has also
    shows Metabase reads the new file. Raises after ``sync_timeout`` seconds naming the tables missing.
    """
    settings = client.settings
    path = f"/api/database/{database_id}/metadata"
    deadline = time.monotonic() + settings.sync_timeout
    delay = min(settings.backoff_initial, 1.0)
    while True:
        metadata = client.call("read of the synced tables", "GET", path,
                               params={"include_hidden": "true", "skip_fields": "true"}) or {}
        tables = metadata.get("tables") or []
        listed = {(t.get("schema"), t.get("name")) for t in tables if t.get("active", True)}
        missing = sorted(copy.tables - listed)
        if not missing:
            return tables
        remaining = deadline - time.monotonic()
        log.info("Metabase schema sync: %d of %d tables of the serving copy listed", len(copy.tables) - len(missing),
                 len(copy.tables))
        if remaining <= 0:
            shown = ", ".join(f"{schema}.{name}" for schema, name in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise DangoError(
                f"Metabase schema sync failed: GET {path} still lacks {len(missing)} table(s) of the serving copy "
                f"after {settings.sync_timeout:g} s: {shown}{more}")
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, settings.backoff_max)


def hide_internal_tables(client: MetabaseClient, tables: list[dict]) -> list[str]:
    """Hide dlt's and dango_meta's tables that are not hidden yet; the names hidden now."""
    hidden = []
    for table in tables:
        if not table.get("active", True) or not is_internal(table.get("schema"), table.get("name", "")):
            continue
        if table.get("visibility_type") == "hidden":
            continue
        client.call("hiding a table", "PUT", f"/api/table/{table['id']}", json_body={"visibility_type": "hidden"})
        hidden.append(f"{table.get('schema')}.{table.get('name')}")
    if hidden:
        log.info("Metabase: hid %d internal table(s): %s", len(hidden), ", ".join(hidden))
    return hidden


def _session_id(body: Any, step: str, endpoint: str) -> str:
    if isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"]:
        return body["id"]
    raise DangoError(f"Metabase {step} failed: {endpoint} returned no session id")
