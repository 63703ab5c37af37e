"""The FastAPI app of the plugin, mounted at ``/dango`` in the Airflow API server.

Routes (each needs an authenticated Airflow user, see ``auth``):

- ``/``: overview page: sources, last loads, governance, freshness, rows per run, warehouse tables
- ``/api/overview``: the same data as JSON
- ``/docs/``: the dbt docs site published in ``data/serving/docs``
- ``/dags/{dag_id}``: target of the "Dango" tab of DAG pages: the DAG's source on the overview

Pages are rendered on the server with inline CSS and SVG; their Content-Security-Policy lets the
browser load nothing, so nothing ever comes from a CDN. Only names of connections and environment
variables are shown, never a value.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dango_provider.plugins.auth import http_error, require_user
from dango_provider.plugins.external_views import URL_PREFIX, without_credentials
from dango_provider.plugins.rendering import render, when

log = logging.getLogger(__name__)

PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'self'")
# dbt docs is a single-page app with inline scripts (AngularJS, which needs eval) that fetches its JSON
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; base-uri 'self'; form-action 'none'; frame-ancestors 'self'")
#: files of the docs site that are served (dbt's target also holds compiled SQL, logs, pickles ...)
DOCS_SUFFIXES = {".html", ".json", ".js", ".css", ".svg", ".png", ".ico", ".woff", ".woff2"}
NO_STORE = {"Cache-Control": "no-store"}
#: dbt's docs site pins its body and its fixed-position frame to at least 960 px: in a narrower window (a
#: laptop split in two, the Airflow UI's side panel) the right of every page is cut off, out of reach.
#: Served with this added, the frame follows the window; wide tables and code scroll inside their card.
NARROW_DOCS_STYLE = ("<style id=\"dango-narrow-docs\">@media (max-width: 960px) "
                     "{ body, .app, .layout { min-width: 0 !important; } }</style>")


def _docs_index(path: Path) -> str:
    """dbt's ``index.html`` with ``NARROW_DOCS_STYLE`` at the end of its head (after dbt's own styles).

    The page is about 1.8 MB: it is read again only when a publish replaced the file."""
    stat = path.stat()
    return _styled_index(path, stat.st_mtime_ns, stat.st_size, stat.st_ino)


@functools.lru_cache(maxsize=2)
def _styled_index(path: Path, mtime_ns: int, size: int, inode: int) -> str:
    html = path.read_text(encoding="utf-8")
    head_end = html.find("</head>")
    return html if head_end < 0 else html[:head_end] + NARROW_DOCS_STYLE + html[head_end:]


def _airflow_root(request: Request) -> str:
    """Path prefix of the Airflow UI: the app's mount path without ``/dango``."""
    return request.scope.get("root_path", "").removesuffix(URL_PREFIX)


def _app_root(request: Request) -> str:
    return request.scope.get("root_path", "") or URL_PREFIX


def _page(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code, headers={"Content-Security-Policy": PAGE_CSP, **NO_STORE})


def _message(request: Request, title: str, message: str, hint: str = "", status_code: int = 200) -> HTMLResponse:
    return _page(render("message.html", title=title, message=message, hint=hint,
                        overview_url=f"{_app_root(request)}/"), status_code)


def _dag_runs(dag_ids: list[str], user, limit: int = 15) -> tuple[dict[str, dict], list[dict]]:
    """From Airflow's metadata database, of the ``dag_ids`` that ``user`` may read: the newest run of each
    (by dag_id) and the newest ``limit`` runs of all, newest first, any state."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    columns = (DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.start_date, DagRun.end_date, DagRun.run_after)
    with create_session() as session:
        readable = get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)
        wanted = [d for d in dag_ids if d in readable]
        if not wanted:
            return {}, []
        newest = select(func.max(DagRun.id)).where(DagRun.dag_id.in_(wanted)).group_by(DagRun.dag_id)
        last = session.execute(select(*columns).where(DagRun.id.in_(newest))).all()
        history = session.execute(
            select(*columns).where(DagRun.dag_id.in_(wanted)).order_by(DagRun.id.desc()).limit(limit)).all()

    def as_dict(row) -> dict:
        dag_id, run_id, state, start, end, run_after = row
        return {"dag_id": dag_id, "run_id": run_id, "state": str(getattr(state, "value", state)),
                "start_date": start or run_after, "end_date": end}

    return {row[0]: as_dict(row) for row in last}, [as_dict(row) for row in history]


def build_overview(request: Request, user, only: str | None = None) -> dict[str, Any]:
    """The overview for ``user``; ``only`` narrows it to one source (the Dango tab of its DAG page)."""
    from dango_provider.config.loader import find_sources_file
    from dango_provider.core.naming import Naming
    from dango_provider.exceptions import DangoError
    from dango_provider.plugins.overview import collect_overview, config_error_overview
    from dango_provider.settings import load_configured_project as load_project
    from dango_provider.settings import resolve_project_dir

    project_dir = resolve_project_dir()
    try:
        project = load_project(project_dir)
    except DangoError as exc:
        try:
            sources_file = str(find_sources_file(project_dir))
        except DangoError:
            sources_file = str(project_dir)
        return config_error_overview(str(exc), sources_file)
    if only not in {s.name for s in project.config.sources}:
        only = None
    dag_ids = [Naming.ingest_dag_id(s.name) for s in project.config.sources if only in (None, s.name)]
    try:
        last_runs, history = _dag_runs(dag_ids, user)
    except Exception:  # the page still shows loads and tables without run states
        log.exception("could not read the DAG runs of the ingest DAGs")
        last_runs, history = {}, []
    return collect_overview(project, last_runs=last_runs, airflow_root=_airflow_root(request), run_history=history,
                            only=only)


def _action_tokens(overview: dict, user) -> dict[str, dict[str, str]]:
    """Per source the user may edit (its ingest DAG), the form token of each action; none for the others."""
    from dango_provider.plugins import actions

    try:
        editable = actions.editable_dag_ids(user, [s["dag_id"] for s in overview["sources"]])
        return {s["name"]: {a: actions.form_token(user, a, s["name"]) for a in actions.ACTIONS}
                for s in overview["sources"] if s["dag_id"] in editable}
    except Exception:  # no buttons rather than no page
        log.exception("could not decide which actions the user may take")
        return {}


def _act(request: Request, user, name: str, action: str, token: str) -> Response:
    import hmac

    from airflow.utils.types import DagRunTriggeredByType

    from dango_provider.core.naming import Naming
    from dango_provider.exceptions import DangoError
    from dango_provider.hooks.airflow_runs import trigger_runnable
    from dango_provider.hooks.drift_accept import accept_drift
    from dango_provider.plugins import actions
    from dango_provider.settings import load_configured_project as load_project
    from dango_provider.settings import resolve_project_dir

    if action not in actions.ACTIONS:
        raise StarletteHTTPException(404, detail=f"no action '{action}'")
    try:
        project = load_project(resolve_project_dir())
        source = project.source(name)
    except DangoError as exc:
        raise StarletteHTTPException(404, detail=str(exc)) from exc
    dag_id = Naming.ingest_dag_id(source.name)
    who = actions.user_name(user)
    if not actions.may_edit(user, dag_id):
        raise StarletteHTTPException(403, detail=f"{who} may not edit {dag_id}, so may not {action} '{name}'")
    if not actions.same_origin(request.headers, request.headers.get("host", "")):
        raise StarletteHTTPException(403, detail="refused: the request did not come from a page of this site")
    if not hmac.compare_digest(token, actions.form_token(user, action, source.name)):
        raise StarletteHTTPException(403, detail="refused: the form's token is missing or not this user's")
    try:
        if action == "accept-drift":
            result = accept_drift(project, source.name, who)
        else:
            conf = {"requested_by": who, **({"full_refresh": True} if action == "full-refresh" else {})}
            result = f"triggered {dag_id} run " + trigger_runnable(dag_id, conf, user=who,
                                                                   triggered_by=DagRunTriggeredByType.UI)
    except Exception as exc:  # a DAG not parsed yet, a held lock: said to the user, nothing recorded
        raise StarletteHTTPException(409, detail=f"{action} of '{name}' failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    actions.audit(Naming.state_dir(project.root), {"user": who, "action": action, "source": source.name,
                                                   "result": result})
    log.info("dango overview: %s of source '%s' by %s: %s", action, source.name, who, result)
    return RedirectResponse(f"{_app_root(request)}/#source-{source.name}", status_code=303)


def _docs_dir() -> Path:
    from dango_provider.core.naming import Naming
    from dango_provider.settings import load_configured_project as load_project
    from dango_provider.settings import resolve_project_dir

    return Naming.docs_dir(load_project(resolve_project_dir()).warehouse_path)


def _servable(docs_dir: Path, target: Path) -> bool:
    """A file of the docs site: inside ``docs_dir``, not hidden, of a type the site needs."""
    if not target.is_relative_to(docs_dir):
        return False
    hidden = any(part.startswith(".") for part in target.relative_to(docs_dir).parts)
    return not hidden and target.suffix.lower() in DOCS_SUFFIXES and target.is_file()


def create_app() -> FastAPI:
    app = FastAPI(title="dango-provider", description="Dango overview and dbt docs in the Airflow UI.",
                  docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(require_user)])
    app.add_exception_handler(StarletteHTTPException, http_error)

    @app.get("/", response_class=HTMLResponse)
    def overview_page(request: Request, user=Depends(require_user)) -> Response:
        from dango_provider.plugins.chart import rows_per_run_svg
        from dango_provider.settings import load_settings

        only = request.query_params.get("only")
        # ?only=transform: the transform alone; ?only=<source>: that source with its loads (the Dango tab)
        overview = build_overview(request, user, only=only)
        focus = "transform" if only == "transform" else "source" if overview.get("only") else None
        chart = rows_per_run_svg({s["name"]: [(when(load["at"]), load["rows"]) for load in s["loads"]]
                                  for s in overview["sources"]})
        root = _app_root(request)
        links = {"docs": f"{root}/docs/", "api": f"{root}/api/overview", "dags": f"{_airflow_root(request)}/dags",
                 "metabase": without_credentials(load_settings().metabase_url), "root": root}
        framed = request.headers.get("sec-fetch-dest") == "iframe"
        return _page(render("overview.html", ov=overview, chart=chart, links=links, framed=framed,
                            actions=_action_tokens(overview, user), focus=focus))

    @app.post("/sources/{name}/{action}")
    async def source_action(request: Request, name: str, action: str, user=Depends(require_user)) -> Response:
        """Accept a source's schema changes, re-run it or reload it from scratch (see plugins/actions.py)."""
        from urllib.parse import parse_qs

        from starlette.concurrency import run_in_threadpool

        from dango_provider.plugins.auth import wants_html

        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        try:
            return await run_in_threadpool(_act, request, user, name, action, (fields.get("token") or [""])[0])
        except StarletteHTTPException as exc:
            if not wants_html(request):
                raise
            # a person pressed the button: a page that says why, with the way back
            return _message(request, "Not done", str(exc.detail), status_code=exc.status_code)

    @app.get("/api/overview")
    def overview_api(request: Request, user=Depends(require_user)) -> JSONResponse:
        from dango_provider.plugins.overview import jsonable

        return JSONResponse(jsonable(build_overview(request, user)), headers=NO_STORE)

    @app.get("/docs")
    def docs_redirect(request: Request) -> RedirectResponse:
        # the site fetches manifest.json and catalog.json relative to its own address
        return RedirectResponse(f"{_app_root(request)}/docs/", status_code=307)

    @app.get("/docs/{path:path}")
    def docs(request: Request, path: str = "") -> Response:
        from dango_provider.exceptions import DangoError

        try:
            docs_dir = _docs_dir().resolve()
        except DangoError as exc:
            return _message(request, "dbt docs", "The project's sources file could not be loaded, so the "
                            f"location of the dbt docs is unknown: {exc}", status_code=404)
        relative = path or "index.html"
        target = (docs_dir / relative).resolve()
        if relative == "index.html" and not target.is_file():
            return _message(
                request, "dbt docs", "The dbt docs have not been generated yet.",
                "They are generated at the end of each dango_transform run and published to "
                f"{docs_dir}. Trigger dango_transform in Airflow, then reload this page.",
                status_code=404)
        if not _servable(docs_dir, target):
            raise StarletteHTTPException(404, detail=f"no file '{path}' in the dbt docs")
        headers = {"Content-Security-Policy": DOCS_CSP, **NO_STORE}
        if target == docs_dir / "index.html":
            return HTMLResponse(_docs_index(target), headers=headers)
        media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=media_type, headers=headers)

    @app.get("/dags/{dag_id}")
    def dag_tab(request: Request, dag_id: str) -> Response:
        """The "Dango" tab of a DAG page: an ingest DAG shows its source's row of the overview."""
        from dango_provider.core.naming import Naming
        from dango_provider.exceptions import DangoError
        from dango_provider.settings import load_configured_project as load_project
        from dango_provider.settings import resolve_project_dir

        root = _app_root(request)
        if dag_id == Naming.transform_dag_id:
            return RedirectResponse(f"{root}/?only=transform#transform", status_code=303)
        try:
            names = {Naming.ingest_dag_id(s.name): s.name for s in load_project(resolve_project_dir()).config.sources}
        except DangoError:
            return RedirectResponse(f"{root}/", status_code=303)
        if dag_id in names:
            return RedirectResponse(f"{root}/?only={names[dag_id]}#source-{names[dag_id]}", status_code=303)
        return _message(request, "Not a Dango DAG",
                        f"The DAG '{dag_id}' is not built by dango-provider from this project's sources file.",
                        "Ingest DAGs are named dango_ingest__<source>; the transform DAG is dango_transform.")

    return app
