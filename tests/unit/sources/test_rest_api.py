"""The ``rest_api`` source: sources.yml block -> dlt ``RESTAPIConfig`` translation, cursor windows, and
credentials resolved from environment variables and Airflow connections."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from dango_provider.config.loader import load_project
from dango_provider.config.rest_api import AuthSpec, EnvVar
from dango_provider.exceptions import DangoConfigError, MissingCredentialsError
from dango_provider.sources import rest_api, rest_auth
from dango_provider.sources.interval import Interval

START = datetime(2024, 5, 1, tzinfo=UTC)
END = datetime(2024, 5, 2, tzinfo=UTC)


def load(write_sources, project_dir, block: str, *, extra: str = "", defaults: str = ""):
    write_sources("version: '1.0'\n" + (f"defaults: {defaults}\n" if defaults else "") + "sources:\n  - name: shop\n"
                  "    type: rest_api\n" + "".join(f"    {line}\n" for line in extra.splitlines() if line)
                  + "    rest_api:\n" + "".join(f"      {line}\n" for line in block.splitlines()))
    project = load_project(project_dir)
    return project, project.source("shop")


def config_error(write_sources, project_dir, block: str) -> DangoConfigError:
    with pytest.raises(DangoConfigError) as info:
        load(write_sources, project_dir, block)
    return info.value


# --- Dango's block, unchanged -------------------------------------------------------------------------

def test_dango_documented_block_becomes_dlt_resources_merged_on_id(write_sources, project_dir):
    project, source = load(write_sources, project_dir, """\
base_url: https://api.example.com/v1
auth_type: bearer
auth_token_env: API_TOKEN
endpoints:
  - path: /users
  - path: /orders
    params:
      limit: 100
""")

    plan = rest_api.plan(project, source, Interval())

    assert plan.base_url == "https://api.example.com/v1"
    assert plan.resources == [{"name": "users", "endpoint": {"path": "/users"}},
                              {"name": "orders", "endpoint": {"path": "/orders", "params": {"limit": 100}}}]
    assert plan.resource_defaults == {"write_disposition": "merge", "primary_key": "id"}
    assert plan.auth == AuthSpec(kind="bearer", token=EnvVar("API_TOKEN", "auth_token_env"))


def test_endpoint_keys_translate_to_dlt_endpoint_and_hints(write_sources, project_dir):
    project, source = load(write_sources, project_dir, """\
base_url: https://api.example.com
endpoints:
  - {path: v2/things, name: things, data_selector: results, paginator: none, primary_key: [a, b], write_disposition: append}
  - {path: auto, paginator: {type: auto}}
  - {path: pages, paginator: {type: page_number, page_param: p, total_path: null}}
  - {path: reports/daily, paginator: header_link}
""")

    resources = rest_api.plan(project, source, Interval()).resources

    assert resources == [
        {"name": "things", "endpoint": {"path": "v2/things", "data_selector": "results", "paginator": "single_page"},
         "primary_key": ["a", "b"], "write_disposition": "append"},
        {"name": "auto", "endpoint": {"path": "auto"}},
        {"name": "pages", "endpoint": {"path": "pages", "paginator": {"type": "page_number", "page_param": "p",
                                                                      "total_path": None}}},
        {"name": "reports_daily", "endpoint": {"path": "reports/daily", "paginator": "header_link"}},
    ]


ENDPOINT_WITH_CURSOR = """\
base_url: https://api.example.com
endpoints:
  - path: events
    incremental: {cursor_path: meta.updated, start_param: since, end_param: until, row_order: asc}
"""


def test_bounded_interval_reads_exactly_the_interval(write_sources, project_dir):
    project, source = load(write_sources, project_dir, ENDPOINT_WITH_CURSOR)

    incremental = rest_api.plan(project, source, Interval(START, END)).resources[0]["endpoint"]["incremental"]

    assert incremental == {
        "cursor_path": "meta.updated", "initial_value": "2024-05-01T00:00:00Z", "end_value": "2024-05-02T00:00:00Z",
        "allow_external_schedulers": False, "last_value_func": rest_api.latest_instant, "start_param": "since",
        "end_param": "until", "row_order": "asc"}


def test_unbounded_run_starts_at_the_source_start_date_and_continues_from_the_cursor(write_sources, project_dir):
    project, source = load(write_sources, project_dir, ENDPOINT_WITH_CURSOR, extra="start_date: 2023-07-01",
                           defaults="{start_date: 2020-01-01}")

    incremental = rest_api.plan(project, source, Interval()).resources[0]["endpoint"]["incremental"]

    assert (incremental["initial_value"], incremental["end_value"]) == ("2023-07-01T00:00:00Z", None)
    assert "end_param" not in incremental  # the stored cursor decides where the run starts; no end


def test_unbounded_run_without_source_start_date_uses_defaults(write_sources, project_dir):
    project, source = load(write_sources, project_dir, ENDPOINT_WITH_CURSOR, defaults="{start_date: 2020-01-01}")

    assert rest_api.plan(project, source, Interval()).window.start == datetime(2020, 1, 1, tzinfo=UTC)


def test_full_refresh_reads_from_the_start_date_to_now(write_sources, project_dir):
    project, source = load(write_sources, project_dir, ENDPOINT_WITH_CURSOR, extra="start_date: 2023-07-01")
    before = datetime.now(UTC)

    plan = rest_api.plan(project, source, Interval(START, END, full_refresh=True))

    assert plan.window.mode == "full_refresh"
    assert plan.window.start == datetime(2023, 7, 1, tzinfo=UTC)
    assert before <= plan.window.end <= datetime.now(UTC) + timedelta(seconds=1)
    assert plan.resources[0]["endpoint"]["incremental"]["end_param"] == "until"


def test_window_caps_and_empty_ranges():
    cap = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert rest_api.window(Interval(), START, end_cap=cap) == rest_api.Window(START, cap, "continue")
    assert rest_api.window(Interval(START, END), START, end_cap=cap).end == cap
    late = rest_api.window(Interval(END, END + timedelta(days=1)), START, end_cap=cap)
    assert late.start == late.end == cap  # nothing to read, and still a valid dlt range
    now = datetime(2024, 6, 1, 10, 0, 0, 250_000, tzinfo=UTC)
    assert rest_api.window(Interval(full_refresh=True), START, now=now).end == datetime(2024, 6, 1, 10, 0, 1,
                                                                                        tzinfo=UTC)


@pytest.mark.parametrize("fmt, start, end", [
    ("iso8601", "2024-05-01T06:30:00Z", "2024-05-02T00:00:00Z"),
    ("unix", 1714545000, 1714608000),
    ("unix_ms", 1714545000000, 1714608000000),
    ("date", "2024-05-01", "2024-05-02"),
])
def test_cursor_formats(fmt, start, end):
    assert rest_api.cursor_value(datetime(2024, 5, 1, 6, 30, tzinfo=UTC), fmt) == start
    assert rest_api.cursor_value(END, fmt, end=True) == end


def test_date_cursor_reads_every_day_a_window_touches():
    assert rest_api.cursor_value(datetime(2024, 5, 2, 6, tzinfo=UTC), "date", end=True) == "2024-05-03"


def test_latest_instant_compares_iso_cursors_by_time_not_text():
    values = ["2024-01-01T00:00:58Z", "2024-01-01T00:00:58.500Z", "2024-01-01T00:00:57.999Z"]
    assert max(values) == "2024-01-01T00:00:58Z"  # text order is wrong here
    assert rest_api.latest_instant(values) == "2024-01-01T00:00:58.500Z"
    assert rest_api.latest_instant(["2024-01-01T01:00:00+01:00", "2024-01-01T00:30:00Z"]) == "2024-01-01T00:30:00Z"
    assert rest_api.unix_ms(datetime(2024, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC)) == 1704067200123


def test_dlt_form_resources_get_the_window_on_their_cursor(write_sources, project_dir):
    project, source = load(write_sources, project_dir, """\
base_url: https://api.example.com
resource_defaults: {primary_key: uid, write_disposition: append}
resources:
  - name: events
    endpoint:
      path: events
      params:
        after: {type: incremental, cursor_path: ts, initial_value: 1700000000}
  - name: logs
    endpoint: {path: logs, incremental: {cursor_path: at, start_param: from, cursor_format: unix_ms}}
  - plain
""")

    bounded = rest_api.plan(project, source, Interval(START, END))
    unbounded = rest_api.plan(project, source, Interval())

    events, logs, plain = bounded.resources
    assert events["endpoint"]["params"] == {}
    assert events["endpoint"]["incremental"] == {
        "cursor_path": "ts", "initial_value": 1714521600, "end_value": 1714608000, "allow_external_schedulers": False,
        "start_param": "after"}
    assert logs["endpoint"]["incremental"]["initial_value"] == 1714521600000
    assert plain == {"name": "plain", "endpoint": {"path": "plain"}}
    # without an interval the resource's own initial value is where the first run starts
    assert unbounded.resources[0]["endpoint"]["incremental"]["initial_value"] == 1700000000
    assert bounded.resource_defaults == {"write_disposition": "append", "primary_key": "uid"}


def test_source_keys_override_the_dango_default_and_resource_defaults_override_them(write_sources, project_dir):
    block = "base_url: https://api.example.com\nendpoints: [a]\n"
    project, source = load(write_sources, project_dir, block, extra="primary_key: [k1, k2]\nwrite_disposition: append",
                           defaults="{write_disposition: replace}")
    assert rest_api.plan(project, source, Interval()).resource_defaults == {"write_disposition": "append",
                                                                         "primary_key": ["k1", "k2"]}
    project, source = load(write_sources, project_dir, block, defaults="{write_disposition: replace}")
    assert rest_api.plan(project, source, Interval()).resource_defaults == {"write_disposition": "replace",
                                                                         "primary_key": "id"}


def test_headers_naming_variables_are_secret_and_kept_out_of_the_plain_headers(write_sources, project_dir):
    project, source = load(write_sources, project_dir, """\
base_url: https://api.example.com
headers: {X-Client: dango, X-Shop-Token: "${SHOP_TOKEN}"}
endpoints: [orders]
""")

    plan = rest_api.plan(project, source, Interval())

    assert plan.headers == {"X-Client": "dango"}
    assert plan.auth.secret_headers == (("X-Shop-Token", EnvVar("SHOP_TOKEN", "headers.X-Shop-Token")),)


# --- authentication described by the block ------------------------------------------------------------

@pytest.mark.parametrize("keys, expected", [
    ("auth_token_env: TOKEN", AuthSpec(kind="bearer", token=EnvVar("TOKEN", "auth_token_env"))),
    ("auth_type: api_key\nauth_token_env: KEY\napi_key_name: X-Key\napi_key_location: query",
     AuthSpec(kind="api_key", api_key=EnvVar("KEY", "auth_token_env"), api_key_name="X-Key", api_key_location="query")),
    ("auth_type: custom_header\nauth_token_env: KEY\nauth_header_name: X-Shopify-Access-Token",
     AuthSpec(kind="api_key", api_key=EnvVar("KEY", "auth_token_env"), api_key_name="X-Shopify-Access-Token",
              api_key_location="header")),
    ("basic_username_env: USER\nbasic_password_env: PASS",
     AuthSpec(kind="http_basic", username=EnvVar("USER", "basic_username_env"),
              password=EnvVar("PASS", "basic_password_env"))),
    ("auth_type: oauth2_client_credentials\nclient_id_env: CID\nclient_secret_env: CSECRET\n"
     "access_token_url: https://id.example.com/token",
     AuthSpec(kind="oauth2_client_credentials", client_id=EnvVar("CID", "client_id_env"),
              client_secret=EnvVar("CSECRET", "client_secret_env"), token_url="https://id.example.com/token")),
    ("auth_type: none", AuthSpec(kind="none")),
    ("conn_id: shop_api", AuthSpec(conn_id="shop_api")),
    ("", AuthSpec()),
    ("auth: {type: basic, username_env: U}\nconn_id: shop_api",
     AuthSpec(kind="http_basic", conn_id="shop_api", username=EnvVar("U", "auth.username_env"))),
])
def test_auth_spec_from_dango_keys_and_the_auth_block(write_sources, project_dir, keys, expected):
    project, source = load(write_sources, project_dir, "base_url: https://api.example.com\nendpoints: [a]\n" + keys)
    assert source.options.auth_spec() == expected


@pytest.mark.parametrize("block, field, message", [
    ("base_url: https://api.example.com", "sources[0].rest_api",
     "list the API's endpoints: 'endpoints' (Dango's form: paths or {path, name, params, ...}) or 'resources' "
     "(dlt's form)"),
    ("base_url: https://api.example.com\nendpoints: [a]\nauth: {type: bearer, token_env: T}\nauth_token_env: T",
     "sources[0].rest_api", "use either the 'auth:' block or the flat keys (auth_token_env), not both"),
    ("base_url: https://api.example.com\nendpoints: [a]\nauth_type: basic\nbasic_username_env: U",
     "sources[0].rest_api", "auth type 'http_basic' needs a password: name the environment variable(s) holding "
     "them, or set conn_id to an Airflow connection"),
    ("base_url: https://api.example.com\nendpoints: [a]\nauth_token_env: ghp-9f8e7d6c5b4a",
     "sources[0].rest_api.auth_token_env", "this field names an environment variable (upper-case letters, digits "
     "and '_', for example STRIPE_API_KEY); the value given is not one and is not shown here, in case it is the "
     "secret itself: put the secret into an environment variable (or an Airflow connection) and write its name here"),
    ("base_url: https://api.example.com\nendpoints: [orders, {path: v2/orders, name: orders}]",
     "sources[0].rest_api", "endpoint names must be unique; repeated: orders (give each endpoint its own 'name')"),
    ("base_url: api.example.com\nendpoints: [a]", "sources[0].rest_api.base_url",
     "'api.example.com' is not an http(s) URL"),
    ("base_url: https://api.example.com\nendpoints: [{path: a, pagination: none}]",
     "sources[0].rest_api.endpoints[0].pagination",
     "unknown key 'pagination' (did you mean 'paginator'?); allowed keys here: data_selector, incremental, name, paginator, params, path, "
     "primary_key, write_disposition"),
    ("base_url: https://api.example.com\nresources: [{endpoint: {path: a}}]",
     "sources[0].rest_api.resources[0]", "a resource in dlt's form needs a 'name' (and usually an 'endpoint')"),
])
def test_invalid_blocks_name_the_field(write_sources, project_dir, block, field, message):
    error = config_error(write_sources, project_dir, block)
    assert (error.field, error.message) == (field, message)


# --- credentials read at run time ---------------------------------------------------------------------

def test_environment_variables_become_dlt_authenticators(monkeypatch):
    from dlt.sources.helpers.rest_client.auth import APIKeyAuth, BearerTokenAuth, HttpBasicAuth, OAuth2ClientCredentials

    monkeypatch.setenv("T_TOKEN", "tok-1234567")
    monkeypatch.setenv("T_USER", "alice")
    monkeypatch.setenv("T_SECRET", "s3cr3t-value")

    bearer = rest_auth.resolve(AuthSpec(kind="bearer", token=EnvVar("T_TOKEN", "auth_token_env")), source="s",
                               block="rest_api")
    key = rest_auth.resolve(AuthSpec(kind="api_key", api_key=EnvVar("T_TOKEN", "f"), api_key_name="k",
                                     api_key_location="query"), source="s", block="rest_api").auth
    basic = rest_auth.resolve(AuthSpec(kind="http_basic", username=EnvVar("T_USER", "u"),
                                       password=EnvVar("T_SECRET", "p")), source="s", block="rest_api").auth
    oauth = rest_auth.resolve(AuthSpec(kind="oauth2_client_credentials", client_id=EnvVar("T_USER", "c"),
                                       client_secret=EnvVar("T_SECRET", "cs"), token_url="https://id/token",
                                       scopes=("read", "write")), source="s", block="rest_api").auth

    assert isinstance(bearer.auth, BearerTokenAuth) and bearer.auth.token == "tok-1234567"
    assert bearer.origin == "environment variable 'T_TOKEN'"
    assert isinstance(key, APIKeyAuth) and (key.name, key.api_key, key.location) == ("k", "tok-1234567", "query")
    assert isinstance(basic, HttpBasicAuth) and (basic.username, basic.password) == ("alice", "s3cr3t-value")
    assert isinstance(oauth, OAuth2ClientCredentials)
    assert (oauth.access_token_url, oauth.client_id, oauth.client_secret) == ("https://id/token", "alice",
                                                                              "s3cr3t-value")
    assert oauth.access_token_request_data == {"scope": "read write"}
    assert all(a.is_resolved() for a in (bearer.auth, key, basic, oauth))


def test_secret_headers_are_read_from_their_variables(monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", "shpat_0123456789")
    spec = AuthSpec(secret_headers=(("X-Shop-Token", EnvVar("SHOP_TOKEN", "headers.X-Shop-Token")),))

    resolved = rest_auth.resolve(spec, source="s", block="rest_api")

    assert resolved.auth is None
    assert resolved.headers == {"X-Shop-Token": "shpat_0123456789"}


def test_missing_environment_variable_names_source_field_and_variable(monkeypatch):
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    with pytest.raises(MissingCredentialsError) as info:
        rest_auth.resolve(AuthSpec(kind="bearer", token=EnvVar("NOT_SET_TOKEN", "auth_token_env")), source="shop",
                          block="rest_api")
    assert str(info.value) == (
        "source 'shop': rest_api.auth_token_env names the environment variable 'NOT_SET_TOKEN', which is not set; "
        "set it in the environment of the Airflow workers, or store it as the Airflow connection 'not_set_token' "
        "(`dango secrets import` does that from a Dango project's .env), or use conn_id with an Airflow connection")


def _connection(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", **fields}))


@pytest.mark.parametrize("fields, kind, check", [
    ({"password": "pat-abcdef"}, "BearerTokenAuth", lambda a: a.token == "pat-abcdef"),
    ({"login": "bob", "password": "pw-abcdef"}, "HttpBasicAuth", lambda a: (a.username, a.password) == ("bob", "pw-abcdef")),
    ({"password": "key-abcdef", "extra": {"api_key_name": "X-Api-Key"}}, "APIKeyAuth",
     lambda a: (a.name, a.api_key, a.location) == ("X-Api-Key", "key-abcdef", "header")),
    ({"password": "key-abcdef", "extra": {"api_key_name": "apikey", "api_key_location": "query"}}, "APIKeyAuth",
     lambda a: (a.name, a.location) == ("apikey", "query")),
    ({"login": "client-1", "password": "cs-abcdef", "extra": {"token_url": "https://id/token", "scopes": "a b"}},
     "OAuth2ClientCredentials",
     lambda a: (a.client_id, a.client_secret, a.access_token_url, a.access_token_request_data) ==
     ("client-1", "cs-abcdef", "https://id/token", {"scope": "a b"})),
    ({"login": "bob", "password": "tok-abcdef", "extra": {"auth_type": "bearer"}}, "BearerTokenAuth",
     lambda a: a.token == "tok-abcdef"),
])
def test_airflow_connection_decides_the_scheme_when_the_block_does_not(monkeypatch, fields, kind, check):
    _connection(monkeypatch, "shop_api", **fields)

    resolved = rest_auth.resolve(AuthSpec(conn_id="shop_api"), source="shop", block="rest_api")

    assert type(resolved.auth).__name__ == kind
    assert check(resolved.auth)
    assert resolved.origin == "Airflow connection 'shop_api'"


def test_block_scheme_with_values_from_the_connection(monkeypatch):
    _connection(monkeypatch, "shop_api", login="ignored", password="key-abcdef")
    monkeypatch.setenv("SHOP_USER", "carol")

    key = rest_auth.resolve(AuthSpec(kind="api_key", conn_id="shop_api", api_key_name="X-Key"), source="shop",
                            block="rest_api").auth
    basic = rest_auth.resolve(AuthSpec(kind="http_basic", conn_id="shop_api", username=EnvVar("SHOP_USER", "u")),
                              source="shop", block="rest_api")

    assert (key.name, key.api_key) == ("X-Key", "key-abcdef")
    assert (basic.auth.username, basic.auth.password) == ("carol", "key-abcdef")
    assert basic.origin == "environment variable 'SHOP_USER', Airflow connection 'shop_api'"


def test_missing_connection_and_empty_connection_name_the_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    with pytest.raises(MissingCredentialsError, match="source 'shop': Airflow connection 'nowhere' is not defined"):
        rest_auth.resolve(AuthSpec(kind="bearer", conn_id="nowhere"), source="shop", block="rest_api")
    _connection(monkeypatch, "empty_api", host="api.example.com")
    with pytest.raises(MissingCredentialsError) as info:
        rest_auth.resolve(AuthSpec(conn_id="empty_api"), source="shop", block="rest_api")
    assert str(info.value) == ("source 'shop': Airflow connection 'empty_api' has no password: put the API token in its "
                               "password (with a login for HTTP basic auth)")
    with pytest.raises(MissingCredentialsError, match="OAuth2 client credentials need a token URL"):
        _connection(monkeypatch, "oauth_api", login="c", password="cs-abcdef")
        rest_auth.resolve(AuthSpec(kind="oauth2_client_credentials", conn_id="oauth_api"), source="shop",
                          block="rest_api")


def test_secrets_read_are_redacted_from_http_library_logs(monkeypatch, caplog):
    monkeypatch.setenv("T_QUERY_KEY", "qk-7c1e2d9a55")
    rest_auth.resolve(AuthSpec(kind="api_key", api_key=EnvVar("T_QUERY_KEY", "f"), api_key_name="key",
                               api_key_location="query"), source="s", block="rest_api")
    caplog.set_level(logging.DEBUG)

    logging.getLogger("urllib3.connectionpool").debug('"GET /v1/items?key=%s HTTP/1.1" 200 10', "qk-7c1e2d9a55")

    assert caplog.records[-1].getMessage() == '"GET /v1/items?key=*** HTTP/1.1" 200 10'
    assert rest_auth.redact("token qk-7c1e2d9a55 seen") == "token *** seen"


# --- the dlt source ---------------------------------------------------------------------------------------

def test_built_source_is_a_dlt_source_with_the_resources_and_their_hints(write_sources, project_dir, monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", "tok-abcdef123")
    project, source = load(write_sources, project_dir, """\
base_url: https://api.example.com
auth_token_env: SHOP_TOKEN
endpoints:
  - {path: orders, incremental: {cursor_path: updated_at, start_param: since}}
  - {path: refunds, primary_key: refund_id, write_disposition: append}
""")

    dlt_source = rest_api.build(project, source, Interval(START, END))

    assert dlt_source.name == "shop"
    assert list(dlt_source.resources) == ["orders", "refunds"]
    orders, refunds = dlt_source.resources["orders"], dlt_source.resources["refunds"]
    assert orders.write_disposition == "merge"
    assert orders.compute_table_schema()["columns"]["id"]["primary_key"] is True
    assert refunds.write_disposition == "append"
    assert refunds.compute_table_schema()["columns"]["refund_id"]["primary_key"] is True


def test_lookback_moves_only_the_start_of_a_bounded_interval():
    from dango_provider.sources.interval import Interval

    start, end = datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 3, tzinfo=UTC)
    assert Interval(start, end).looking_back(2) == Interval(start - timedelta(days=2), end)
    assert Interval(start, end).looking_back(0) == Interval(start, end)
    assert Interval().looking_back(2) == Interval()  # a manual run continues from the stored cursor
    assert Interval(start, end, full_refresh=True).looking_back(2) == Interval(start, end, full_refresh=True)
