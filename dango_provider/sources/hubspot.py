"""The ``hubspot`` preset: CRM v3 objects (contacts, companies, deals, tickets, ...) through HubSpot's
CRM search endpoint, which is the one that filters and sorts by last modification.

Per HubSpot's CRM API documentation, ``POST /crm/v3/objects/{object}/search`` takes a JSON body with
``filterGroups`` (here: last modification ``GTE`` the window start and, when bounded, ``LT`` its end,
as millisecond timestamps), ``sorts`` (ascending by last modification), ``limit`` (at most 200; 100
here), ``properties`` and ``after``; it answers ``{"results": [{id, properties, createdAt, updatedAt,
archived}], "paging": {"next": {"after": ...}}}``. The last-modified property is ``lastmodifieddate``
for contacts and ``hs_lastmodifieddate`` for the other objects; each record's ``updatedAt`` carries it.
The private app token is sent as a bearer token.

Each object is a table of that name, merged on ``id``, incremental on ``updatedAt``. HubSpot's search
returns at most 10,000 records per query: a larger first load is best run as a backfill by interval.
"""

from __future__ import annotations

from typing import Any

from dango_provider.config.loader import Project
from dango_provider.config.model import Source
from dango_provider.config.rest_api import AuthSpec, EnvVar, HubspotOptions
from dango_provider.sources.interval import Interval
from dango_provider.sources.rest_api import (
    ApiPlan,
    Window,
    api_source,
    incremental,
    page_limit,
    parse_instant,
    start_date,
    unix_ms,
    window,
    write_disposition,
)

MAX_PAGE = 100
#: the last-modified property of each object (contacts predate the hs_ prefix)
LAST_MODIFIED = {"contacts": "lastmodifieddate"}
DEFAULT_LAST_MODIFIED = "hs_lastmodifieddate"
PAGINATOR = {"type": "cursor", "cursor_path": "paging.next.after", "cursor_body_path": "after"}


def build(project: Project, source: Source, interval: Interval):
    return api_source(source, source.options, plan(project, source, interval))


def plan(project: Project, source: Source, interval: Interval) -> ApiPlan:
    options: HubspotOptions = source.options
    win = window(interval, start_date(project, source))
    limit = page_limit(options.page_size, MAX_PAGE)
    resources = [resource(name, win, limit, options.properties.get(name)) for name in options.objects]
    return ApiPlan(base_url=options.base_url, auth=auth_spec(options), resources=resources, window=win,
                   resource_defaults={"write_disposition": write_disposition(project, source)})


def resource(name: str, win: Window, limit: int, properties: list[str] | None) -> dict[str, Any]:
    """The search request of one CRM object, its filters bound to the window by dlt's placeholders."""
    modified = LAST_MODIFIED.get(name, DEFAULT_LAST_MODIFIED)
    filters = [{"propertyName": modified, "operator": "GTE", "value": "{incremental.start_value}"}]
    if win.end is not None:
        filters.append({"propertyName": modified, "operator": "LT", "value": "{incremental.end_value}"})
    body: dict[str, Any] = {
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
        "limit": limit,
    }
    if properties:
        body["properties"] = list(properties)
    return {
        "name": name,
        "primary_key": "id",
        "endpoint": {
            "path": f"crm/v3/objects/{name}/search",
            "method": "POST",
            "json": body,
            "data_selector": "results",
            "paginator": dict(PAGINATOR),
            "incremental": incremental("updatedAt", "iso8601", win, row_order="asc", convert=epoch_ms),
        },
    }


def epoch_ms(value: Any) -> str | None:
    """A cursor value (ISO 8601 text) as HubSpot's filter value: milliseconds since the epoch."""
    if value is None:
        return None
    return str(unix_ms(parse_instant(value)))


def auth_spec(options: HubspotOptions) -> AuthSpec:
    env = options.secret_env
    field = "api_key_env" if options.api_key_env else "api_key_env (default)"
    return AuthSpec(kind="bearer", conn_id=options.conn_id, token=EnvVar(env, field) if env else None)
