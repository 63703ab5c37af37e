"""The ``rest_api`` source type, and the machinery the SaaS presets (stripe, github, hubspot) share:
a ``sources.yml`` block turned into dlt's ``rest_api_source`` configuration.

Endpoints come in Dango's form (``endpoints: [/users, {path, name, params, data_selector, paginator,
primary_key, write_disposition, incremental}]``) or in dlt's (``resources`` + ``resource_defaults``).
Each resource is merged on ``id`` unless it, ``resource_defaults`` or the source says otherwise.

Incremental cursors follow the run's ``Interval``:

- bounded: ``initial_value`` = interval start, ``end_value`` = interval end: exactly ``[start, end)``
  is read (sent to the API as ``start_param``/``end_param`` when the endpoint has them, and filtered
  by dlt), and the stored cursor is left alone, so re-running an interval is idempotent;
- unbounded: continue from the stored cursor; the first run starts at the source's start date;
- full refresh: ``[start date, now)`` without touching the stored cursor (the runner replaces tables).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from dango_provider.config.loader import Project
from dango_provider.config.model import Source
from dango_provider.config.rest_api import (
    AuthSpec,
    CursorFormat,
    Endpoint,
    HttpOptions,
    RestApiOptions,
    as_utc,
    endpoint_name,
)
from dango_provider.sources import rest_auth
from dango_provider.sources.interval import Interval

log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def build(project: Project, source: Source, interval: Interval):
    """The dlt source of a ``rest_api`` block for one run."""
    return api_source(source, source.options, plan(project, source, interval))


def plan(project: Project, source: Source, interval: Interval) -> ApiPlan:
    """What a run of a ``rest_api`` block requests (no I/O: secrets are read by ``api_source``)."""
    options: RestApiOptions = source.options
    spec = options.auth_spec()
    win = window(interval, start_date(project, source))
    secret_headers = {name for name, _ in spec.secret_headers}
    return ApiPlan(
        base_url=options.base_url, auth=spec, window=win,
        resources=[endpoint_resource(entry, win) for entry in (*options.endpoints, *options.resources)],
        resource_defaults={**resource_hints(project, source), **copy.deepcopy(options.resource_defaults)},
        headers={k: v for k, v in options.headers.items() if k not in secret_headers},
        paginator=paginator_config(options.paginator))


@dataclass
class ApiPlan:
    """One run of an API source in dlt's ``RESTAPIConfig`` terms, before any secret is read."""

    base_url: str
    auth: AuthSpec
    resources: list[dict[str, Any]]
    window: Window
    resource_defaults: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    paginator: Any = None


# --- the run's window and cursor values ---------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """The cursor range of one run. ``end`` None: continue from the stored cursor (from ``start`` the
    first time). ``mode`` says which of the three ``Interval`` cases produced it."""

    start: datetime
    end: datetime | None
    mode: Literal["interval", "continue", "full_refresh"]

    def __str__(self) -> str:
        if self.end is None:
            return f"from the stored cursor (first run from {self.start.isoformat()})"
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def window(interval: Interval, start: datetime, *, end_cap: datetime | None = None,
           now: datetime | None = None) -> Window:
    """The window of a run: its data interval, or the stored cursor, or ``[start, now)`` for a full refresh.

    ``end_cap`` (a block's ``end_date``) bounds every window.
    """
    if interval.full_refresh:
        moment = now or datetime.now(UTC)
        # whole seconds, rounded up: the record created in the current second is read too
        end = moment.replace(microsecond=0) + (timedelta(seconds=1) if moment.microsecond else timedelta())
        win = Window(start, end, "full_refresh")
    elif interval.bounded:
        win = Window(*interval.bounds_utc, "interval")
    else:
        win = Window(start, None, "continue")
    if end_cap is not None and (win.end is None or win.end > end_cap):
        win = Window(win.start, end_cap, win.mode)
    if win.end is not None and win.start > win.end:
        win = Window(win.end, win.end, win.mode)  # nothing to read, and dlt accepts an empty range
    return win


def start_date(project: Project, source: Source, override: date | datetime | None = None) -> datetime:
    """Where the first run of a source starts: ``override`` (a block's own start_date), else the
    source's ``start_date``, else ``defaults.start_date``."""
    return as_utc(override or source.start_date or project.config.defaults.start_date)


def cursor_value(moment: datetime, fmt: CursorFormat, *, end: bool = False) -> str | int:
    """``moment`` written the way the API writes the cursor. A date cursor reads the whole days a
    window touches (``end``: the day after the last one touched)."""
    moment = as_utc(moment)
    if fmt == "unix":
        return int(moment.timestamp())
    if fmt == "unix_ms":
        return unix_ms(moment)
    if fmt == "date":
        day = moment.date()
        if end and moment.time() != datetime.min.time():
            day += timedelta(days=1)
        return day.isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def unix_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, in integer arithmetic (a float product can round down a millisecond)."""
    return (as_utc(moment) - _EPOCH) // timedelta(milliseconds=1)


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 cursor value (``...Z``, with or without fractions, or with an offset) as UTC."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return as_utc(value)
    if isinstance(value, str):
        return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00")))
    raise ValueError(f"cursor value {value!r} is not an ISO 8601 timestamp")


def latest_instant(values):
    """dlt's ``last_value_func`` for ISO 8601 cursors: the latest by instant, not by text, so that
    ``...:58Z`` and ``...:58.000Z`` compare equal and fractions compare right. Returns the value as read."""
    return max(values, key=parse_instant)


def incremental(cursor_path: str, fmt: CursorFormat, win: Window, *, start_param: str | None = None,
                end_param: str | None = None, row_order: str | None = None,
                convert: Callable[[Any], Any] | None = None, initial_value: Any = None) -> dict[str, Any]:
    """dlt's endpoint ``incremental`` configuration for a window.

    :param initial_value: where an unbounded run starts when no cursor is stored (default: the window start)
    """
    start = cursor_value(win.start, fmt)
    if initial_value is not None and win.mode != "interval":
        start = initial_value
    config: dict[str, Any] = {
        "cursor_path": cursor_path,
        "initial_value": start,
        "end_value": None if win.end is None else cursor_value(win.end, fmt, end=True),
        "allow_external_schedulers": False,  # the provider passes Airflow's interval itself
    }
    if fmt == "iso8601":
        config["last_value_func"] = latest_instant
    if start_param:
        config["start_param"] = start_param
    if end_param and win.end is not None:
        config["end_param"] = end_param
    if row_order:
        config["row_order"] = row_order
    if convert is not None:
        config["convert"] = convert
    return config


# --- Dango's and dlt's endpoint forms -----------------------------------------------------------------

def resource_hints(project: Project, source: Source, *, primary_key: str | list[str] | None = "id") -> dict[str, Any]:
    """Write disposition and primary key of every resource of a source, unless a resource says otherwise:
    the source's own keys, then ``defaults``, then merge on ``primary_key``."""
    key = source.primary_key or primary_key
    hints: dict[str, Any] = {"write_disposition": write_disposition(project, source)}
    if key:
        hints["primary_key"] = key
    return hints


def write_disposition(project: Project, source: Source) -> str:
    """The source's write disposition, else ``defaults``', else merge (API records are updated in place)."""
    from dango_provider.sources.pipeline import effective_write_disposition

    return effective_write_disposition(project, source)


def paginator_config(value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    """Dango's paginator shorthand as dlt's: ``none`` -> ``single_page``, ``auto`` -> detection (None)."""
    if value is None:
        return None
    kind = value if isinstance(value, str) else value.get("type", "auto")
    if kind == "none":
        return "single_page"
    if kind == "auto":
        return None
    return value if isinstance(value, str) else dict(value)


def endpoint_resource(entry: str | Endpoint | dict[str, Any], win: Window) -> dict[str, Any]:
    """One ``endpoints``/``resources`` entry as a dlt resource configuration for window ``win``."""
    if isinstance(entry, str):
        return {"name": endpoint_name(entry), "endpoint": {"path": entry}}
    if isinstance(entry, Endpoint):
        endpoint: dict[str, Any] = {"path": entry.path}
        if entry.params:
            endpoint["params"] = copy.deepcopy(entry.params)
        if entry.data_selector:
            endpoint["data_selector"] = entry.data_selector
        paginator = paginator_config(entry.paginator)
        if paginator is not None:
            endpoint["paginator"] = paginator
        if entry.incremental:
            inc = entry.incremental
            endpoint["incremental"] = incremental(inc.cursor_path, inc.cursor_format, win, start_param=inc.start_param,
                                                  end_param=inc.end_param, row_order=inc.row_order)
        resource: dict[str, Any] = {"name": entry.resource_name, "endpoint": endpoint}
        if entry.primary_key is not None:
            resource["primary_key"] = entry.primary_key
        if entry.write_disposition:
            resource["write_disposition"] = entry.write_disposition
        return resource
    return _dlt_form_resource(entry, win)


def _dlt_form_resource(entry: dict[str, Any], win: Window) -> dict[str, Any]:
    """A resource in dlt's form with its incremental cursor set to the window.

    ``params: {p: {type: incremental, ...}}`` becomes the endpoint's ``incremental`` with ``start_param: p``
    (dlt allows an end value only there). ``cursor_format`` (our key) says how the cursor is written;
    without it an integer ``initial_value`` means unix seconds, anything else ISO 8601.
    """
    resource = copy.deepcopy(entry)
    endpoint = resource.get("endpoint")
    if not isinstance(endpoint, dict):
        return resource
    params = endpoint.get("params") or {}
    for name, value in list(params.items()):
        if isinstance(value, dict) and value.get("type") == "incremental":
            config = {k: v for k, v in value.items() if k != "type"}
            endpoint["incremental"] = {**config, "start_param": name}
            del params[name]
    user = endpoint.get("incremental")
    if isinstance(user, dict):
        user = dict(user)
        given = user.pop("initial_value", None)
        user.pop("end_value", None)
        fmt: CursorFormat = user.pop("cursor_format", None) or ("unix" if isinstance(given, int) else "iso8601")
        cursor_path = user.pop("cursor_path")
        built = incremental(cursor_path, fmt, win, start_param=user.pop("start_param", None),
                            end_param=user.pop("end_param", None), row_order=user.pop("row_order", None),
                            initial_value=given)
        endpoint["incremental"] = {**built, **user}
    return resource


# --- the dlt source -----------------------------------------------------------------------------------

def api_source(source: Source, options: HttpOptions, plan: ApiPlan):
    """dlt's ``rest_api_source`` of ``plan``, with the credentials read now and a retrying session."""
    from dlt.sources.rest_api import rest_api_source

    import dango_provider.sources.pipeline  # noqa: F401 - dlt's settings: no telemetry, no Airflow Variable lookups

    resolved = rest_auth.resolve(plan.auth, source=source.name, block=source.type)
    session = rest_auth.http_session(options, base_url=plan.base_url, resolved=resolved)
    if resolved.auth is not None and hasattr(resolved.auth, "access_token_url"):
        resolved.auth.session = session  # the OAuth2 token request is retried and reported like the others
    client: dict[str, Any] = {"base_url": plan.base_url, "session": session}
    if resolved.auth is not None:
        client["auth"] = resolved.auth
    if plan.headers:
        client["headers"] = dict(plan.headers)
    if plan.paginator is not None:
        client["paginator"] = plan.paginator
    config: dict[str, Any] = {"client": client, "resources": copy.deepcopy(plan.resources)}
    if plan.resource_defaults:
        config["resource_defaults"] = copy.deepcopy(plan.resource_defaults)
    names = ", ".join(str(r.get("name")) for r in plan.resources)
    log.info("source '%s': reading %s from %s, cursors %s (credentials: %s)", source.name, names, plan.base_url,
             plan.window, resolved.origin)
    return rest_api_source(config, name=source.name)  # type: ignore[arg-type]  # dlt's TypedDict, from the validated block


def page_limit(value: int | None, maximum: int) -> int:
    return maximum if value is None else max(1, min(value, maximum))
