"""Authentication of the plugin's routes through Airflow's auth manager.

Routes of a plugin app are public unless the app checks the user itself. Every route of the dango app
depends on :func:`require_user`, which resolves the user exactly as Airflow's own API does
(``airflow.api_fastapi.core_api.security.get_user``): an ``Authorization: Bearer`` JWT first, else the
``_token`` cookie the Airflow UI sets at login (refreshed by Airflow's JWT middleware). Without a
valid token, pages redirect to the auth manager's login page (which comes back to the page), and the
JSON API and other non-HTML requests get 401.
"""

from __future__ import annotations

from airflow.api_fastapi.core_api.security import bearer_scheme, get_user
from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

#: paths under the app's prefix that only ever answer JSON
API_PREFIX = "/api/"

NOT_AUTHENTICATED = "Not authenticated"


async def require_user(request: Request,
                       credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)):
    """The Airflow user of the request; 401 when there is no valid token (expired, invalid or none)."""
    try:
        return await get_user(request, None, credentials)
    except HTTPException as exc:
        if exc.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
            # Airflow answers 403 for a malformed or foreign token: for this app it is no login either
            detail = NOT_AUTHENTICATED if exc.detail == NOT_AUTHENTICATED else f"{NOT_AUTHENTICATED}: {exc.detail}"
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail,
                                headers={"WWW-Authenticate": "Bearer"}) from exc
        raise


def app_path(request: Request) -> str:
    """The request's path inside the app (``/``, ``/api/overview``, ``/docs/...``)."""
    root = request.scope.get("root_path", "")
    path = request.url.path
    return path[len(root):] if root and path.startswith(root) else path


def wants_html(request: Request) -> bool:
    """A page request from a browser (not the JSON API, not a script fetching data)."""
    if app_path(request).startswith(API_PREFIX):
        return False
    accept = request.headers.get("accept", "")
    if not accept or "text/html" in accept:
        return True
    return "*/*" in accept and "json" not in accept


def login_redirect(request: Request) -> Response:
    """303 to the auth manager's login page, with ``next`` back to the page asked for."""
    from airflow.api_fastapi.app import get_auth_manager

    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(get_auth_manager().get_url_login(next_url=target), status_code=status.HTTP_303_SEE_OTHER)


async def http_error(request: Request, exc: HTTPException) -> Response:
    """The app's handler of HTTP errors: login redirect for pages, JSON for everything else."""
    if exc.status_code == status.HTTP_401_UNAUTHORIZED and wants_html(request):
        return login_redirect(request)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))
