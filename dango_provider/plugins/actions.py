"""Actions from the overview: accept a source's schema changes, re-run a source, reload it from scratch.

Each is a POST from a form on the overview and is refused unless all hold:

- the user is logged in (``require_user``) and Airflow's auth manager lets them edit the source's ingest
  DAG (``is_authorized_dag(method="PUT")``); the page shows the buttons only to such users;
- the request comes from this site: its ``Origin`` (else ``Referer``) names the host it was sent to;
- it carries the form's token: an HMAC of the user, the action and the source under the API's JWT
  secret, so a page elsewhere cannot make a logged-in browser act (the login is a cookie).

Every action is audited: who and when, appended to ``.dango/state/audit.jsonl``; a run also carries
``requested_by`` in its conf, which its extract task logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ACTIONS = ("accept-drift", "run", "full-refresh")


def _secret() -> bytes:
    from airflow.configuration import conf

    secret = conf.get("api_auth", "jwt_secret", fallback="") or ""
    if not secret:
        raise PermissionError("the API has no [api_auth] jwt_secret to sign forms with")
    return secret.encode()


def user_id(user) -> str:
    return str(getattr(user, "get_id", lambda: None)() or getattr(user, "get_name", lambda: "")())


def user_name(user) -> str:
    return str(getattr(user, "get_name", lambda: None)() or user_id(user))


def form_token(user, action: str, source: str) -> str:
    message = f"{user_id(user)}\n{action}\n{source}".encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()


def same_origin(headers, host: str) -> bool:
    """The request was sent by a page of this site: ``Origin`` (or, without it, ``Referer``) names ``host``."""
    origin = headers.get("origin") or headers.get("referer") or ""
    return bool(origin) and origin != "null" and urlsplit(origin).netloc == host


def may_edit(user, dag_id: str) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return bool(get_auth_manager().is_authorized_dag(method="PUT", user=user, details=DagDetails(id=dag_id)))


def editable_dag_ids(user, dag_ids: list[str]) -> set[str]:
    """Those of ``dag_ids`` the user may edit, in one question to the auth manager."""
    from airflow.api_fastapi.app import get_auth_manager

    return set(dag_ids) & set(get_auth_manager().get_authorized_dag_ids(user=user, method="PUT"))


def audit(state_root: Path, record: dict) -> None:
    """Append one action to the audit file (one JSON object per line)."""
    state_root.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"), **record}, sort_keys=True)
    fd = os.open(state_root / "audit.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
