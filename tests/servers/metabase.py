"""A local HTTP server in place of Metabase (a JVM service that cannot run here), for the set-up client.

It answers the endpoints the provider uses the way Metabase v0.63's API reference and endpoint sources
describe them, with real DuckDB behind the DuckDB "driver":

- ``GET /api/health``: 503 ``{"status": "initializing", "progress": ...}`` for the first
  ``unhealthy_calls`` calls, then 200 ``{"status": "ok"}``.
- ``GET /api/session/properties`` (public): ``has-user-setup``, ``version``, and ``setup-token`` until
  the first user exists (then the key is gone).
- ``POST /api/setup`` ``{token, user: {email, password, first_name, last_name}, prefs: {site_name}}``:
  200 ``{"id": session}``; 400 ``{"errors": {field: message}}`` for a wrong token, a bad email, a too
  common password or a blank site name; 403 once a user exists.
- ``POST /api/session`` ``{username, password}``: 200 ``{"id": session}``; 401
  ``{"errors": {"password": "did not match stored password"}}``.
- Every other ``/api`` endpoint needs the ``X-Metabase-Session`` header: 401 ``Unauthenticated`` without.
- ``GET /api/database``: ``{"data": [...], "total": n}``. ``POST /api/database`` ``{name, engine, details}``
  tests the connection (opens ``details.database_file`` with DuckDB, read-only when ``read_only``):
  400 ``{"message": ...}`` when it fails, else 200 with the database, and starts its first sync.
  ``PUT /api/database/:id`` merges ``details``; when they changed it tests the connection and closes
  the database's connection pool. ``GET /api/database/:id/metadata`` lists active and inactive tables
  (hidden ones only with ``include_hidden=true``; fields unless ``skip_fields=true``).
- ``POST /api/database/:id/sync_schema`` and ``/rescan_values``: 200 ``{"status": "ok"}``; the sync runs
  in the background after ``sync_delay`` seconds.
- ``PUT /api/table/:id`` ``{visibility_type}`` (null, hidden, technical, cruft).

Like Metabase's DuckDB driver, a database's sync reads through a pooled DuckDB connection that stays
open until the pool is closed (a details change): a file replaced under it keeps being read through
the old connection. Test-only routes: ``GET /_fake/state`` and ``GET /_fake/requests``.

Run it as a process (``python -m tests.servers.metabase --port 0``), like the real service: DuckDB
caches open databases per process, so a stand-in inside the test process would share its files.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

VERSION = "v0.63.10"
COMMON_PASSWORDS = {"password", "password1", "12345678", "123456", "metabase", "metabase1", "qwerty123"}
VISIBILITY_TYPES = (None, "hidden", "technical", "cruft")


class Unauthenticated(Exception):
    pass


class FakeMetabase:
    def __init__(self, unhealthy_calls: int = 0, sync_delay: float = 0.2):
        self.lock = threading.RLock()
        self.unhealthy_calls = unhealthy_calls
        self.sync_delay = sync_delay
        self.setup_token: str | None = secrets.token_hex(16)
        self.users: dict[str, str] = {}
        self.sessions: set[str] = set()
        self.site_name: str | None = None
        self.databases: dict[int, dict] = {}
        self.tables: dict[int, dict] = {}
        self.pools: dict[int, Any] = {}  # database id -> open DuckDB connection
        self.syncs: dict[int, int] = {}
        self.rescans: dict[int, int] = {}
        self.requests: list[dict] = []
        self.next_id = {"database": 1, "table": 1}

    # --- routing -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, headers: dict, body: Any) -> tuple[int, Any]:
        if path == "/_fake/state":
            return 200, self.state()
        if path == "/_fake/requests":
            return 200, self.requests
        public = {
            ("GET", "/api/health"): self.health,
            ("GET", "/api/session/properties"): self.properties,
            ("POST", "/api/setup"): self.setup,
            ("POST", "/api/session"): self.login,
        }
        if (method, path) in public:
            return public[(method, path)](body)
        if headers.get("x-metabase-session") not in self.sessions:
            raise Unauthenticated()
        routes = [
            ("GET", r"/api/database", self.list_databases),
            ("POST", r"/api/database", self.create_database),
            ("GET", r"/api/database/(\d+)", self.get_database),
            ("PUT", r"/api/database/(\d+)", self.update_database),
            ("GET", r"/api/database/(\d+)/metadata", self.metadata),
            ("POST", r"/api/database/(\d+)/sync_schema", self.sync_schema),
            ("POST", r"/api/database/(\d+)/rescan_values", self.rescan_values),
            ("PUT", r"/api/table/(\d+)", self.update_table),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern + "/?", path)
            if match and route_method == method:
                return handler(*[int(g) for g in match.groups()], query=query, body=body)
        return 404, "API endpoint does not exist."

    # --- public endpoints ------------------------------------------------------------------------

    def health(self, _body) -> tuple[int, Any]:
        if self.unhealthy_calls > 0:
            self.unhealthy_calls -= 1
            return 503, {"status": "initializing", "progress": 0.5}
        return 200, {"status": "ok"}

    def properties(self, _body) -> tuple[int, Any]:
        props = {"has-user-setup": bool(self.users), "site-name": self.site_name,
                 "version": {"tag": VERSION, "date": "2026-06-01"}, "engines": {"duckdb": {"driver-name": "DuckDB"}}}
        if self.setup_token:
            props["setup-token"] = self.setup_token
        return 200, props

    def setup(self, body) -> tuple[int, Any]:
        body = body if isinstance(body, dict) else {}
        user = body.get("user") or {}
        prefs = body.get("prefs") or {}
        if self.users:
            return 403, {"message": "The /api/setup route can only be used to create the first user, "
                                    "however a user currently exists."}
        errors = {}
        if not self.setup_token or body.get("token") != self.setup_token:
            errors["token"] = "Token does not match the setup token."
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(user.get("email") or "")):
            errors["email"] = "value must be a valid email address."
        password = str(user.get("password") or "")
        if len(password) < 6 or not re.search(r"\d", password) or password.lower() in COMMON_PASSWORDS:
            errors["password"] = "password is too common."
        if not str(prefs.get("site_name") or "").strip():
            errors["site_name"] = "value must be a non-blank string."
        if errors:
            return 400, {"errors": errors}
        self.users[user["email"]] = password
        self.site_name = prefs["site_name"]
        self.setup_token = None
        return 200, {"id": self._new_session()}

    def login(self, body) -> tuple[int, Any]:
        body = body if isinstance(body, dict) else {}
        errors = {k: "value must be a non-blank string." for k in ("username", "password") if not body.get(k)}
        if errors:
            return 400, {"errors": errors}
        if self.users.get(body["username"]) != body["password"]:
            return 401, {"errors": {"password": "did not match stored password"}}
        return 200, {"id": self._new_session()}

    def _new_session(self) -> str:
        session = secrets.token_hex(16)
        self.sessions.add(session)
        return session

    # --- databases -----------------------------------------------------------------------------

    def list_databases(self, query, body) -> tuple[int, Any]:
        data = [self._database_json(d) for d in sorted(self.databases.values(), key=lambda d: d["name"].lower())]
        return 200, {"data": data, "total": len(data)}

    def get_database(self, database_id, query, body) -> tuple[int, Any]:
        if database_id not in self.databases:
            return 404, "Not found."
        return 200, self._database_json(self.databases[database_id])

    def create_database(self, query, body) -> tuple[int, Any]:
        body = body if isinstance(body, dict) else {}
        errors = {}
        if not str(body.get("name") or "").strip():
            errors["name"] = "value must be a non-blank string."
        if body.get("engine") != "duckdb":
            errors["engine"] = "value must be a valid database engine."
        if not isinstance(body.get("details"), dict):
            errors["details"] = "Value must be a map."
        if errors:
            return 400, {"errors": errors}
        failure = self._test_connection(body["details"])
        if failure:
            return 400, {"message": failure}
        database_id = self.next_id["database"]
        self.next_id["database"] += 1
        self.databases[database_id] = {
            "id": database_id, "name": body["name"], "engine": "duckdb", "details": dict(body["details"]),
            "is_full_sync": body.get("is_full_sync", True), "initial_sync_status": "incomplete",
            "created_at": _now(), "updated_at": _now(),
        }
        self._schedule_sync(database_id)
        return 200, self._database_json(self.databases[database_id])

    def update_database(self, database_id, query, body) -> tuple[int, Any]:
        if database_id not in self.databases:
            return 404, "Not found."
        database = self.databases[database_id]
        body = body if isinstance(body, dict) else {}
        if body.get("details") is not None:
            details = {**database["details"], **body["details"]}
            if details != database["details"]:
                failure = self._test_connection(details)
                if failure:
                    return 400, {"message": failure}
                database["details"] = details
                self._close_pool(database_id)  # Metabase invalidates the pool when details change
        if body.get("name"):
            database["name"] = body["name"]
        database["updated_at"] = _now()
        return 200, self._database_json(database)

    def sync_schema(self, database_id, query, body) -> tuple[int, Any]:
        if database_id not in self.databases:
            return 404, "Not found."
        failure = self._test_connection(self.databases[database_id]["details"])
        if failure:
            return 422, {"message": failure}
        self._schedule_sync(database_id)
        return 200, {"status": "ok"}

    def rescan_values(self, database_id, query, body) -> tuple[int, Any]:
        if database_id not in self.databases:
            return 404, "Not found."
        self.rescans[database_id] = self.rescans.get(database_id, 0) + 1
        return 200, {"status": "ok"}

    def metadata(self, database_id, query, body) -> tuple[int, Any]:
        if database_id not in self.databases:
            return 404, "Not found."
        include_hidden = query.get("include_hidden", ["false"])[0] == "true"
        skip_fields = query.get("skip_fields", ["false"])[0] == "true"
        tables = [t for t in self.tables.values() if t["db_id"] == database_id
                  and (include_hidden or t["visibility_type"] is None)]
        tables = [{**t, **({} if skip_fields else {"fields": []})} for t in sorted(tables, key=lambda t: t["id"])]
        return 200, {**self._database_json(self.databases[database_id]), "tables": tables}

    def update_table(self, table_id, query, body) -> tuple[int, Any]:
        if table_id not in self.tables:
            return 404, "Not found."
        body = body if isinstance(body, dict) else {}
        if "visibility_type" in body:
            if body["visibility_type"] not in VISIBILITY_TYPES:
                return 400, {"errors": {"visibility_type": "nullable enum of hidden, technical, cruft"}}
            self.tables[table_id]["visibility_type"] = body["visibility_type"]
        return 200, self.tables[table_id]

    # --- the DuckDB "driver" -------------------------------------------------------------------

    def _test_connection(self, details: dict) -> str | None:
        import duckdb

        path = details.get("database_file")
        if not path:
            return "Database file is required."
        try:
            duckdb.connect(path, read_only=bool(details.get("read_only")), config={
                "autoinstall_known_extensions": False, "autoload_known_extensions": False}).close()
        except duckdb.Error as exc:
            return str(exc)
        return None

    def _close_pool(self, database_id: int) -> None:
        con = self.pools.pop(database_id, None)
        if con is not None:
            con.close()

    def _schedule_sync(self, database_id: int) -> None:
        timer = threading.Timer(self.sync_delay, self._sync, args=(database_id,))
        timer.daemon = True
        timer.start()

    def _sync(self, database_id: int) -> None:
        import duckdb

        with self.lock:
            database = self.databases[database_id]
            con = self.pools.get(database_id)
            if con is None:
                con = duckdb.connect(database["details"]["database_file"],
                                     read_only=bool(database["details"].get("read_only")),
                                     config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
                self.pools[database_id] = con
            found = set(con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "UNION SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = current_database() "
                "AND NOT internal").fetchall())
            known = {(t["schema"], t["name"]): t for t in self.tables.values() if t["db_id"] == database_id}
            for key, table in known.items():
                table["active"] = key in found
            for schema, name in sorted(found - set(known)):
                table_id = self.next_id["table"]
                self.next_id["table"] += 1
                self.tables[table_id] = {"id": table_id, "db_id": database_id, "schema": schema, "name": name,
                                         "display_name": name.replace("_", " ").strip().title(),
                                         "active": True, "visibility_type": None}
            database["initial_sync_status"] = "complete"
            self.syncs[database_id] = self.syncs.get(database_id, 0) + 1

    # --- views ---------------------------------------------------------------------------------

    def _database_json(self, database: dict) -> dict:
        return {**database, "details": dict(database["details"]), "features": ["basic-aggregations"]}

    def state(self) -> dict:
        return {
            "users": sorted(self.users), "setup_token": self.setup_token is not None,
            "databases": [self._database_json(d) for d in self.databases.values()],
            "tables": sorted(self.tables.values(), key=lambda t: t["id"]),
            "syncs": self.syncs, "rescans": self.rescans, "open_pools": sorted(self.pools),
        }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def serve(port: int, unhealthy_calls: int, sync_delay: float) -> None:
    fake = FakeMetabase(unhealthy_calls=unhealthy_calls, sync_delay=sync_delay)

    class Handler(BaseHTTPRequestHandler):
        def _respond(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                status, payload = 400, {"message": "Malformed JSON"}
            else:
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    with fake.lock:
                        status, payload = fake.handle(method, url.path, parse_qs(url.query), headers, body)
                except Unauthenticated:
                    status, payload = 401, "Unauthenticated"
            if not url.path.startswith("/_fake/"):
                with fake.lock:
                    fake.requests.append({"method": method, "path": url.path, "query": url.query, "status": status,
                                          "at": time.monotonic(), "body": body})
            data = (json.dumps(payload) if not isinstance(payload, str) else payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._respond("GET")

        def do_POST(self):
            self._respond("POST")

        def do_PUT(self):
            self._respond("PUT")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


class MetabaseProcess:
    """The stand-in as a child process: ``url``, ``state()``, ``requests()``, ``stop()``."""

    def __init__(self, *, unhealthy_calls: int = 0, sync_delay: float = 0.2):
        repo = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.servers.metabase", "--port", "0",
             "--unhealthy-calls", str(unhealthy_calls), "--sync-delay", str(sync_delay)],
            cwd=repo, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the Metabase stand-in did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def state(self) -> dict:
        return self._get("/_fake/state")

    def requests(self) -> list[dict]:
        return self._get("/_fake/requests")

    def wait_for_syncs(self, database_id: int, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.state()["syncs"].get(str(database_id), 0) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"database {database_id} was not synced {count} time(s) within {timeout} s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--unhealthy-calls", type=int, default=0)
    parser.add_argument("--sync-delay", type=float, default=0.2)
    args = parser.parse_args()
    serve(args.port, args.unhealthy_calls, args.sync_delay)


if __name__ == "__main__":
    main()
