"""A small client of Metabase's REST API, for the endpoints the set-up uses.

Payloads and responses follow Metabase v0.63 (the pinned ``METABASE_VERSION``, 0.63.10): its API
reference (https://www.metabase.com/docs/v0.63/api, also served by Metabase at ``/api/docs``) and the
endpoint sources it is generated from. Sessions: ``POST /api/setup`` (first run) or ``POST /api/session``
return ``{"id": <session id>}``, sent back in the ``X-Metabase-Session`` header; a request without a
valid session gets 401.

Every failure raises :class:`DangoError` naming the step, the method and endpoint and the status
(or the transport error), with Metabase's own error text; the admin password never appears in it.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx

from dango_provider.exceptions import DangoError
from dango_provider.metabase.settings import MetabaseSettings

log = logging.getLogger(__name__)

SESSION_HEADER = "X-Metabase-Session"


class MetabaseClient:
    """One Metabase, one session. Use as a context manager (closes the HTTP connections)."""

    def __init__(self, settings: MetabaseSettings):
        self.settings = settings
        self.session_id: str | None = None
        self._http = httpx.Client(base_url=settings.base_url, timeout=settings.request_timeout,
                                  headers={"Accept": "application/json"})

    def __enter__(self) -> MetabaseClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- requests ----------------------------------------------------------------------------

    def call(self, step: str, method: str, path: str, *, json_body: Any = None, params: dict | None = None,
             expect: tuple[int, ...] = (200,)) -> Any:
        """One request; the decoded JSON body (None when empty). Raises on any other status than ``expect``."""
        headers = {SESSION_HEADER: self.session_id} if self.session_id else {}
        try:
            response = self._http.request(method, path, json=json_body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise DangoError(f"Metabase {step} failed: {method} {path} at {self.settings.base_url}: "
                             f"{type(exc).__name__}: {self._redact(str(exc))}") from None
        if response.status_code not in expect:
            raise DangoError(f"Metabase {step} failed: {method} {path} returned {response.status_code}: "
                             f"{self._detail(response)}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise DangoError(f"Metabase {step} failed: {method} {path} returned {response.status_code} "
                             f"with a body that is not JSON: {self._redact(response.text[:200])!r}") from None

    def wait_until_healthy(self) -> int:
        """Poll ``GET /api/health`` until it answers 200 ``{"status": "ok"}``; back off between attempts.

        Metabase answers 503 ``{"status": "initializing", "progress": ...}`` while it starts. Returns the
        number of attempts; raises after ``health_timeout`` seconds.
        """
        settings = self.settings
        deadline = time.monotonic() + settings.health_timeout
        delay = settings.backoff_initial
        attempts = 0
        while True:
            attempts += 1
            try:
                response = self._http.get("/api/health")
                if response.status_code == 200 and _json_or_none(response).get("status") == "ok":
                    return attempts
                last = f"{response.status_code} {self._detail(response)}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {self._redact(str(exc))}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DangoError(
                    f"Metabase health check failed: GET /api/health at {settings.base_url} did not return 200 "
                    f"within {settings.health_timeout:g} s ({attempts} attempts; last: {last})")
            log.info("Metabase is not ready (GET /api/health: %s); next check in %.1f s", last, min(delay, remaining))
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, settings.backoff_max)

    # --- error text --------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        password = self.settings.password
        return text.replace(password, "***") if password else text

    def _detail(self, response: httpx.Response) -> str:
        """Metabase's error text: ``{"errors": {field: message}}``, ``{"message": ...}`` or plain text."""
        body = _json_or_none(response)
        if isinstance(body.get("errors"), dict) and body["errors"]:
            text = "; ".join(f"{key}: {value}" for key, value in body["errors"].items())
        elif body.get("message"):
            text = str(body["message"])
        elif body:
            text = json.dumps(body)[:300]
        else:
            text = response.text.strip()[:300] or response.reason_phrase
        return self._redact(text)


def _json_or_none(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
