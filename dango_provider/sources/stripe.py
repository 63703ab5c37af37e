"""The ``stripe`` preset: Stripe's list endpoints through dlt's REST API source, no endpoint configuration.

Per Stripe's API reference, a list endpoint (``GET /v1/customers`` ...) returns
``{"object": "list", "data": [...], "has_more": bool}`` newest first, takes ``limit`` (1-100) and
``starting_after`` (the id of the last object of the previous page), and filters on the creation time
with ``created[gte]``/``created[lt]`` (unix seconds). The secret key is sent as a bearer token.

Each endpoint is a table named as written in ``endpoints`` (Dango's ``Charge`` -> ``charge``; by
default ``customers``, ``charges``, ``invoices``, ``subscriptions``, ``products``, ``prices``,
``payment_intents``), merged on ``id``, incremental on ``created``.
"""

from __future__ import annotations

from dango_provider.config.loader import Project
from dango_provider.config.model import Source
from dango_provider.config.rest_api import AuthSpec, EnvVar, StripeOptions, as_utc
from dango_provider.sources.interval import Interval
from dango_provider.sources.rest_api import (
    ApiPlan,
    api_source,
    incremental,
    page_limit,
    start_date,
    window,
    write_disposition,
)

MAX_PAGE = 100
#: extra list parameters per endpoint (subscriptions lists only non-canceled ones without status=all)
EXTRA_PARAMS = {"subscriptions": {"status": "all"}}
PAGINATOR = {"type": "cursor", "cursor_path": "data[-1].id", "cursor_param": "starting_after",
             "has_more_path": "has_more"}


def build(project: Project, source: Source, interval: Interval):
    return api_source(source, source.options, plan(project, source, interval))


def plan(project: Project, source: Source, interval: Interval) -> ApiPlan:
    options: StripeOptions = source.options
    end_cap = as_utc(options.end_date) if options.end_date else None
    win = window(interval, start_date(project, source, options.start_date), end_cap=end_cap)
    limit = page_limit(options.page_size, MAX_PAGE)
    resources = []
    for table, endpoint in options.tables.items():
        resources.append({
            "name": table,
            "primary_key": "id",
            "endpoint": {
                "path": endpoint,
                "params": {"limit": limit, **EXTRA_PARAMS.get(endpoint, {})},
                "data_selector": "data",
                "paginator": dict(PAGINATOR),
                "incremental": incremental("created", "unix", win, start_param="created[gte]",
                                           end_param="created[lt]"),
            },
        })
    return ApiPlan(base_url=options.base_url, auth=auth_spec(options), resources=resources, window=win,
                   resource_defaults={"write_disposition": write_disposition(project, source)})


def auth_spec(options: StripeOptions) -> AuthSpec:
    env = options.secret_env
    field = "stripe_secret_key_env" if options.stripe_secret_key_env else "stripe_secret_key_env (default)"
    return AuthSpec(kind="bearer", conn_id=options.conn_id, token=EnvVar(env, field) if env else None)
