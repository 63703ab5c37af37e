"""A local HTTP server that pages and filters the way Stripe, GitHub and HubSpot document, plus a
generic JSON API with every authentication scheme of the ``rest_api`` source.

Routes (``server.url`` + ...):

- ``/stripe/v1/{endpoint}``: ``limit``, ``starting_after``, ``created[gte]``/``created[lt]``, newest first,
  ``{"object": "list", "data": [...], "has_more": ...}``; bearer token.
- ``/github/repos/{owner}/{repo}/{issues|pulls|commits}``: ``per_page``/``page`` with ``Link`` headers,
  ``since`` (issues: ``updated_at``; commits: ``commit.committer.date``, with ``until``), ``sort``/``direction``;
  bearer token.
- ``POST /hubspot/crm/v3/objects/{object}/search``: ``filterGroups`` on the object's last-modified property
  (millisecond values), ascending ``sorts``, ``limit``, ``after``; bearer token.
- ``/api/{name}``: ``{"data": [...], "next": url|null}`` pages of ``page_size``, ``updated_since``/
  ``updated_before`` on ``updated_at``; authentication set by ``server.api_auth``; ``POST /oauth/token``
  issues tokens for the client credentials in ``server.oauth_clients``.

Faults (``server.fault(...)``) answer a matching request with a status (``Retry-After`` ...) or drop the
connection halfway through the body. Every request is recorded with its time.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HUBSPOT_LAST_MODIFIED = {"contacts": "lastmodifieddate"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(moment: datetime, *, ms: bool = False) -> str:
    moment = moment.astimezone(UTC)
    if ms:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: float
    status: int = 0

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    path: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    drop: bool = False
    times: int = 1
    after: int = 0
    seen: int = 0

    def applies(self, path: str) -> bool:
        if not path.startswith(self.path) or self.times <= 0:
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        self.times -= 1
        return True


class SaasServer:
    """Start with ``with SaasServer() as server:``; fill ``stripe``, ``github``, ``hubspot``, ``api``."""

    def __init__(self, token: str = "tok_" + "x" * 8):
        self.token = token
        self.stripe: dict[str, list[dict]] = {}
        self.github: dict[tuple[str, str], list[dict]] = {}
        self.hubspot: dict[str, list[dict]] = {}
        self.api: dict[str, list[dict]] = {}
        #: ("bearer", token) | ("api_key", "header"|"query", name, key) | ("basic", user, password) | ("oauth2",)
        self.api_auth: tuple = ("bearer", token)
        self.oauth_clients: dict[str, str] = {}
        self.oauth_tokens: set[str] = set()
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle --------------------------------------------------------------------------------
    def __enter__(self) -> SaasServer:
        handler = type("Handler", (_Handler,), {"app": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def fault(self, path: str, **kwargs) -> Fault:
        fault = Fault(path=path, **kwargs)
        self.faults.append(fault)
        return fault

    def requests_to(self, prefix: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    # --- dispatch ---------------------------------------------------------------------------------
    def handle(self, request: Recorded) -> tuple[int, dict[str, str], Any]:
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] == ["oauth"]:
            return self._oauth_token(request)
        if parts[:2] == ["stripe", "v1"] and len(parts) == 3:
            return self._authorized(request, "stripe") or self._stripe(request, parts[2])
        if parts[:2] == ["github", "repos"] and len(parts) == 5:
            return self._authorized(request, "github") or self._github(request, f"{parts[2]}/{parts[3]}", parts[4])
        if parts[:4] == ["hubspot", "crm", "v3", "objects"] and len(parts) == 6 and parts[5] == "search":
            return self._authorized(request, "hubspot") or self._hubspot(request, parts[4])
        if parts[:1] == ["api"] and len(parts) == 2:
            return self._api_authorized(request) or self._api(request, parts[1])
        return 404, {}, {"message": "Not Found"}

    def _bearer_ok(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _authorized(self, request: Recorded, api: str):
        if self._bearer_ok(request):
            return None
        body = {"stripe": {"error": {"message": "Invalid API Key provided", "type": "invalid_request_error"}},
                "github": {"message": "Bad credentials"},
                "hubspot": {"status": "error", "message": "Authentication credentials not found."}}[api]
        return 401, {}, body

    # --- Stripe -----------------------------------------------------------------------------------
    def _stripe(self, request: Recorded, endpoint: str):
        if endpoint not in self.stripe:
            return 404, {}, {"error": {"message": f"Unrecognized request URL (GET: /v1/{endpoint})"}}
        rows = sorted(self.stripe[endpoint], key=lambda r: (r["created"], r["id"]), reverse=True)
        gte, lt = request.param("created[gte]"), request.param("created[lt]")
        if gte is not None:
            rows = [r for r in rows if r["created"] >= int(gte)]
        if lt is not None:
            rows = [r for r in rows if r["created"] < int(lt)]
        if endpoint == "subscriptions" and request.param("status") != "all":
            rows = [r for r in rows if r.get("status") != "canceled"]
        after = request.param("starting_after")
        if after is not None:
            ids = [r["id"] for r in rows]
            rows = rows[ids.index(after) + 1:]
        limit = min(int(request.param("limit") or 10), 100)
        page = rows[:limit]
        return 200, {}, {"object": "list", "url": f"/v1/{endpoint}", "has_more": len(rows) > limit, "data": page}

    # --- GitHub -----------------------------------------------------------------------------------
    def _github(self, request: Recorded, repository: str, endpoint: str):
        if (repository, endpoint) not in self.github:
            return 404, {}, {"message": "Not Found"}
        rows = list(self.github[(repository, endpoint)])
        if endpoint == "commits":
            moment = lambda r: parse_iso(r["commit"]["committer"]["date"])  # noqa: E731
            rows.sort(key=moment, reverse=True)
            if request.param("since"):
                rows = [r for r in rows if moment(r) >= parse_iso(request.param("since"))]
            if request.param("until"):
                rows = [r for r in rows if moment(r) <= parse_iso(request.param("until"))]
        else:
            if request.param("state") != "all":
                rows = [r for r in rows if r.get("state") == "open"]
            rows.sort(key=lambda r: parse_iso(r["updated_at"]), reverse=request.param("direction") != "asc")
            if endpoint == "issues" and request.param("since"):
                rows = [r for r in rows if parse_iso(r["updated_at"]) >= parse_iso(request.param("since"))]
        per_page = min(int(request.param("per_page") or 30), 100)
        page = int(request.param("page") or 1)
        last = max(1, math.ceil(len(rows) / per_page))
        headers = {}
        if page < last:
            links = [f'<{self._page_url(request, page + 1)}>; rel="next"', f'<{self._page_url(request, last)}>; rel="last"']
            headers["Link"] = ", ".join(links)
        return 200, headers, rows[(page - 1) * per_page: page * per_page]

    def _page_url(self, request: Recorded, page: int) -> str:
        query = {k: v[0] for k, v in request.query.items()}
        query["page"] = str(page)
        return f"{self.url}{request.path}?{urlencode(query)}"

    # --- HubSpot ----------------------------------------------------------------------------------
    def _hubspot(self, request: Recorded, name: str):
        if request.method != "POST" or name not in self.hubspot:
            return 404, {}, {"status": "error", "message": "Not Found"}
        body = request.body or {}
        expected = HUBSPOT_LAST_MODIFIED.get(name, "hs_lastmodifieddate")
        rows = list(self.hubspot[name])
        for group in body.get("filterGroups", []):
            for flt in group.get("filters", []):
                if flt["propertyName"] != expected:
                    return 400, {}, {"status": "error", "message": f"unsupported filter {flt['propertyName']}"}
                bound = int(flt["value"])
                ms = lambda r: (parse_iso(r["updatedAt"]) - EPOCH) // timedelta(milliseconds=1)  # noqa: E731
                if flt["operator"] == "GTE":
                    rows = [r for r in rows if ms(r) >= bound]
                elif flt["operator"] == "LT":
                    rows = [r for r in rows if ms(r) < bound]
                else:
                    return 400, {}, {"status": "error", "message": f"unsupported operator {flt['operator']}"}
        for sort in body.get("sorts", []):
            if sort.get("propertyName") != expected:
                return 400, {}, {"status": "error", "message": "unsupported sort"}
            rows.sort(key=lambda r: (parse_iso(r["updatedAt"]), r["id"]), reverse=sort.get("direction") == "DESCENDING")
        limit = min(int(body.get("limit", 10)), 200)
        offset = int(body.get("after") or 0)
        page = rows[offset: offset + limit]
        answer: dict[str, Any] = {"total": len(rows), "results": page}
        if offset + limit < len(rows):
            answer["paging"] = {"next": {"after": str(offset + limit), "link": "?after=" + str(offset + limit)}}
        return 200, {}, answer

    # --- generic API and OAuth2 -------------------------------------------------------------------
    def _api_authorized(self, request: Recorded):
        kind = self.api_auth[0]
        ok = False
        if kind == "none":
            ok = True
        elif kind == "bearer":
            ok = request.headers.get("authorization") == f"Bearer {self.api_auth[1]}"
        elif kind == "api_key":
            _, location, name, key = self.api_auth
            ok = (request.headers.get(name.lower()) if location == "header" else request.param(name)) == key
        elif kind == "basic":
            expected = base64.b64encode(f"{self.api_auth[1]}:{self.api_auth[2]}".encode()).decode()
            ok = request.headers.get("authorization") == f"Basic {expected}"
        elif kind == "oauth2":
            header = request.headers.get("authorization", "")
            ok = header.startswith("Bearer ") and header[7:] in self.oauth_tokens
        return None if ok else (401, {}, {"message": "unauthorized"})

    def _oauth_token(self, request: Recorded):
        form = request.body if isinstance(request.body, dict) else {}
        client, secret = form.get("client_id"), form.get("client_secret")
        if form.get("grant_type") != "client_credentials" or self.oauth_clients.get(client) != secret:
            return 401, {}, {"error": "invalid_client"}
        token = "oat_" + secrets.token_hex(8)
        self.oauth_tokens.add(token)
        return 200, {}, {"access_token": token, "token_type": "bearer", "expires_in": 3600,
                         "scope": form.get("scope", "")}

    def _api(self, request: Recorded, name: str):
        if name not in self.api:
            return 404, {}, {"message": "Not Found"}
        rows = sorted(self.api[name], key=lambda r: (r["updated_at"], r["id"]))
        if request.param("updated_since"):
            rows = [r for r in rows if parse_iso(r["updated_at"]) >= parse_iso(request.param("updated_since"))]
        if request.param("updated_before"):
            rows = [r for r in rows if parse_iso(r["updated_at"]) < parse_iso(request.param("updated_before"))]
        size = int(request.param("page_size") or 2)
        page = int(request.param("page") or 1)
        chunk = rows[(page - 1) * size: page * size]
        more = page * size < len(rows)
        return 200, {}, {"data": chunk, "next": self._page_url(request, page + 1) if more else None}


class _Handler(BaseHTTPRequestHandler):
    app: SaasServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            kind = self.headers.get("Content-Type", "")
            if "json" in kind:
                body = json.loads(raw)
            else:
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        request = Recorded(method=self.command, path=split.path, query=parse_qs(split.query, keep_blank_values=True),
                           headers={k.lower(): v for k, v in self.headers.items()}, body=body, at=time.monotonic())
        app = self.app
        with app._lock:
            app.requests.append(request)
            fault = next((f for f in app.faults if f.applies(split.path)), None)
        if fault is not None and fault.status is not None:
            status, headers, payload = fault.status, fault.headers, fault.body or {"message": "fault"}
        else:
            status, headers, payload = app.handle(request)
        request.status = status
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if fault is not None and fault.drop:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(data)
