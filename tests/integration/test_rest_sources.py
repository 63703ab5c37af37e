"""API sources end to end: real dlt pipelines into a real DuckDB warehouse, reading a local HTTP server
(tests/servers/saas.py) that pages, filters, rate-limits and fails the way Stripe, GitHub and HubSpot do."""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import IngestError, MissingCredentialsError
from dango_provider.hooks.duckdb import DuckDBHook
from dango_provider.sources.interval import Interval
from dango_provider.sources.runner import extract_source, load_source
from tests import ingest
from tests.servers.saas import SaasServer, iso

TOKEN = "sk_test_51DangoSecretToken9f3a"
DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY2 + timedelta(days=1)


@pytest.fixture
def server():
    with SaasServer(token=TOKEN) as running:
        yield running


@pytest.fixture(autouse=True)
def token_env(monkeypatch):
    monkeypatch.setenv("TEST_API_TOKEN", TOKEN)


def project(root: Path, block: str, *, source_type: str, name: str = "api", extra: str = "") -> Path:
    """A project with one API source; ``block`` is the inline YAML mapping of its type block."""
    (root / "sources.yml").write_text(
        "version: '1.0'\n"
        "defaults: {start_date: 2024-03-01}\n"
        "sources:\n"
        f"  - name: {name}\n"
        f"    type: {source_type}\n"
        + "".join(f"    {line}\n" for line in extra.splitlines() if line)
        + f"    {source_type}: {block}\n")
    return root


def sync(root: Path, name: str = "api", *, interval: Interval | None = None, full_refresh: bool = False):
    return ingest.sync(root, name, interval, full_refresh=full_refresh)


def extract_error(root: Path, name: str = "api", interval: Interval | None = None) -> BaseException:
    loaded = load_project(root)
    warehouse = DuckDBHook(loaded.warehouse_path, lock_timeout=30)
    with pytest.raises(Exception) as info:
        extract_source(loaded, loaded.source(name), warehouse, interval=interval)
    return info.value


query = ingest.query


def tables(root: Path, schema: str = "raw_api") -> set[str]:
    path = root / "data" / "warehouse.duckdb"
    if not path.exists():
        return set()
    return {t for (t,) in query(root, f"select table_name from information_schema.tables where table_schema = '{schema}'")
            if not t.startswith("_dlt")}


def at(day: datetime, hours: float) -> datetime:
    return day + timedelta(hours=hours)


# --- data the way each API returns it ---------------------------------------------------------------

def stripe_objects(prefix: str, moments: list[datetime], **fields) -> list[dict]:
    return [{"id": f"{prefix}_{i}", "object": prefix, "created": int(m.timestamp()), **fields}
            for i, m in enumerate(moments)]


def github_issues(repo: str, moments: list[datetime], first: int = 1) -> list[dict]:
    return [{"id": hash((repo, n)) & 0xFFFFFFF, "number": n, "title": f"issue {n}", "state": "open",
             "updated_at": iso(m), "created_at": iso(DAY1)} for n, m in enumerate(moments, first)]


def github_commits(shas: list[str], moments: list[datetime]) -> list[dict]:
    return [{"sha": sha, "commit": {"message": f"commit {sha}", "committer": {"name": "a", "date": iso(m)}}}
            for sha, m in zip(shas, moments)]


def hubspot_records(prefix: int, moments: list[datetime]) -> list[dict]:
    return [{"id": str(prefix + i), "properties": {"name": f"record {i}", "hs_object_id": str(prefix + i)},
             "createdAt": iso(DAY1, ms=True), "updatedAt": iso(m, ms=True), "archived": False}
            for i, m in enumerate(moments)]


def stripe_block(server: SaasServer, extra: str = "") -> str:
    return (f"{{stripe_secret_key_env: TEST_API_TOKEN, base_url: '{server.url}/stripe/v1', page_size: 2"
            + (f", {extra}" if extra else "") + "}")


# --- each preset reads every page ---------------------------------------------------------------------

def test_stripe_reads_every_page_of_its_default_endpoints(tmp_path, server):
    hours = [1, 2, 3, 4, 5]
    server.stripe = {
        "customers": stripe_objects("cus", [at(DAY1, h) for h in hours]),
        "charges": stripe_objects("ch", [at(DAY1, h) for h in hours[:3]], amount=100),
        "invoices": stripe_objects("in", [at(DAY1, h) for h in hours[:3]]),
        "subscriptions": stripe_objects("sub", [at(DAY1, 1)], status="active")
        + [{"id": "sub_c", "object": "subscription", "created": int(at(DAY1, 2).timestamp()), "status": "canceled"}],
        "products": stripe_objects("prod", [at(DAY1, h) for h in hours[:2]]),
        "prices": stripe_objects("price", [at(DAY1, h) for h in hours[:4]]),
        "payment_intents": stripe_objects("pi", [at(DAY1, h) for h in hours[:3]]),
    }
    root = project(tmp_path, stripe_block(server), source_type="stripe")

    extracted, loaded = sync(root)

    expected = {"customers": 5, "charges": 3, "invoices": 3, "subscriptions": 2, "products": 2, "prices": 4,
                "payment_intents": 3}
    assert loaded.row_counts == expected
    for table, count in expected.items():
        assert query(root, f"select count(*), count(distinct id) from raw_api.{table}") == [(count, count)]
    # cursor pagination: page 2 starts after the last id of page 1, the way Stripe documents it
    pages = [r.param("starting_after") for r in server.requests_to("/stripe/v1/customers")]
    assert pages == [None, "cus_3", "cus_1"]
    assert all(r.param("limit") == "2" for r in server.requests_to("/stripe/v1/"))
    assert [r.param("status") for r in server.requests_to("/stripe/v1/subscriptions")] == ["all"]


def test_github_reads_every_page_of_each_repository(tmp_path, server):
    moments = [at(DAY1, h) for h in range(1, 6)]
    for repo in ("octo/one", "octo/two"):
        server.github[(repo, "issues")] = github_issues(repo, moments)
        server.github[(repo, "pulls")] = github_issues(repo + "#pr", moments[:3], first=100)
        # the same commit in both repositories (a fork): one row per repository
        server.github[(repo, "commits")] = github_commits(["a1", "b2", repo[-3:]], moments[:3])
    root = project(tmp_path, f"{{owner: octo, repos: [one, two], access_token_env: TEST_API_TOKEN, "
                             f"base_url: '{server.url}/github', page_size: 2}}", source_type="github")

    _, loaded = sync(root)

    assert loaded.row_counts == {"issues": 10, "pull_requests": 6, "commits": 6}
    assert query(root, "select repository, count(*), count(distinct number) from raw_api.issues group by 1 order by 1") == [
        ("octo/one", 5, 5), ("octo/two", 5, 5)]
    assert query(root, "select count(*) from raw_api.commits where sha = 'a1'") == [(2,)]
    # Link header pagination: pages 2 and 3 were requested through the URLs the server gave
    assert [r.param("page") for r in server.requests_to("/github/repos/octo/one/issues")] == [None, "2", "3"]
    issues = server.requests_to("/github/repos/octo/one/issues")[0]
    assert (issues.param("state"), issues.param("per_page"), issues.param("since")) == ("all", "2", "2024-03-01T00:00:00Z")
    assert issues.headers["accept"] == "application/vnd.github+json"


def test_hubspot_reads_every_page_of_each_object(tmp_path, server):
    server.hubspot = {
        "contacts": hubspot_records(100, [at(DAY1, h) for h in range(1, 6)]),
        "companies": hubspot_records(200, [at(DAY1, h) for h in range(1, 4)]),
        "deals": hubspot_records(300, [at(DAY1, 1), at(DAY1, 2)]),
        "tickets": hubspot_records(400, [at(DAY1, 7)]),
    }
    root = project(tmp_path, f"{{api_key_env: TEST_API_TOKEN, base_url: '{server.url}/hubspot', page_size: 2}}",
                   source_type="hubspot")

    _, loaded = sync(root)

    assert loaded.row_counts == {"contacts": 5, "companies": 3, "deals": 2, "tickets": 1}
    assert query(root, "select count(distinct id), min(properties__name) from raw_api.contacts") == [(5, "record 0")]
    searches = server.requests_to("/hubspot/crm/v3/objects/contacts/search")
    assert [r.body.get("after") for r in searches] == [None, "2", "4"]
    assert searches[0].body["filterGroups"] == [{"filters": [
        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(int(DAY1.timestamp() * 1000))}]}]
    assert searches[0].body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    companies = server.requests_to("/hubspot/crm/v3/objects/companies/search")[0]
    assert companies.body["filterGroups"][0]["filters"][0]["propertyName"] == "hs_lastmodifieddate"


# --- intervals ----------------------------------------------------------------------------------------

DAY1_MOMENTS = [at(DAY1, 1), at(DAY1, 12), at(DAY1, 23.99)]
DAY2_MOMENTS = [DAY2, at(DAY2, 5)]  # a record exactly at the boundary belongs to the second interval
DAY3_MOMENTS = [at(DAY3, 1)]


def _interval_case(kind: str, server: SaasServer, root: Path) -> tuple[Path, str, str]:
    moments = DAY1_MOMENTS + DAY2_MOMENTS + DAY3_MOMENTS
    if kind == "stripe":
        server.stripe["customers"] = stripe_objects("cus", moments)
        return project(root, stripe_block(server, "endpoints: [customers]"), source_type="stripe"), "customers", "id"
    if kind == "github":
        server.github[("octo/one", "issues")] = github_issues("octo/one", moments)
        block = (f"{{owner: octo, name: one, access_token_env: TEST_API_TOKEN, base_url: '{server.url}/github', "
                 "endpoints: [issues], page_size: 2}")
        return project(root, block, source_type="github"), "issues", "id"
    server.hubspot["deals"] = hubspot_records(500, moments)
    block = f"{{api_key_env: TEST_API_TOKEN, base_url: '{server.url}/hubspot', resources: [deals], page_size: 2}}"
    return project(root, block, source_type="hubspot"), "deals", "id"


@pytest.mark.parametrize("kind", ["stripe", "github", "hubspot"])
def test_bounded_intervals_load_exactly_their_records_and_reruns_are_idempotent(tmp_path, server, kind):
    root, table, key = _interval_case(kind, server, tmp_path)
    first, second = Interval(DAY1, DAY2), Interval(DAY2, DAY3)

    assert sync(root, interval=first)[1].row_counts == {table: 3}
    assert sync(root, interval=second)[1].row_counts == {table: 2}
    rerun = sync(root, interval=first)[1]

    assert rerun.row_counts == {table: 3}
    assert query(root, f"select count(*), count(distinct {key}) from raw_api.{table}") == [(5, 5)]
    # nothing of the third day, which no interval covered
    assert len(query(root, f"select 1 from raw_api.{table}")) == len(DAY1_MOMENTS + DAY2_MOMENTS)


def test_unbounded_run_continues_from_the_stored_cursor_which_intervals_leave_alone(tmp_path, server):
    server.stripe["customers"] = stripe_objects("cus", DAY1_MOMENTS + DAY2_MOMENTS)
    root = project(tmp_path, stripe_block(server, "endpoints: [customers]"), source_type="stripe",
                   extra="start_date: 2024-02-15")

    assert sync(root)[1].row_counts == {"customers": 5}
    assert sync(root, interval=Interval(DAY1, DAY2))[1].row_counts == {"customers": 3}
    server.stripe["customers"] += stripe_objects("new", DAY3_MOMENTS + [at(DAY3, 2)])
    extracted, _ = sync(root)

    assert extracted.row_counts == {"customers": 2}
    starts = [r.param("created[gte]") for r in server.requests_to("/stripe/v1/customers")
              if r.param("starting_after") is None]  # the first page of each run
    cursor = str(int(at(DAY2, 5).timestamp()))
    assert starts == [str(int(datetime(2024, 2, 15, tzinfo=UTC).timestamp())), str(int(DAY1.timestamp())),
                      cursor]
    assert query(root, "select count(*), count(distinct id) from raw_api.customers") == [(7, 7)]


def test_full_refresh_reads_everything_from_the_start_date_and_replaces_the_table(tmp_path, server):
    server.stripe["customers"] = stripe_objects("cus", DAY1_MOMENTS + DAY2_MOMENTS, email="old@example.com")
    root = project(tmp_path, stripe_block(server, "endpoints: [customers]"), source_type="stripe")
    sync(root)
    server.stripe["customers"] = [c for c in server.stripe["customers"] if c["id"] != "cus_0"]
    server.stripe["customers"][0]["email"] = "new@example.com"

    _, loaded = sync(root, full_refresh=True)

    assert loaded.row_counts == {"customers": 4}
    assert query(root, "select id, email from raw_api.customers order by id") == [
        ("cus_1", "new@example.com"), ("cus_2", "old@example.com"), ("cus_3", "old@example.com"),
        ("cus_4", "old@example.com")]
    refresh = [r for r in server.requests_to("/stripe/v1/customers") if r.param("starting_after") is None][-1]
    assert refresh.param("created[gte]") == str(int(DAY1.timestamp()))  # the start date, not the stored cursor
    assert int(refresh.param("created[lt]")) >= int(datetime.now(UTC).timestamp())


# --- failures -----------------------------------------------------------------------------------------

def test_rate_limited_request_is_retried_after_the_retry_after_delay(tmp_path, server):
    server.stripe["customers"] = stripe_objects("cus", DAY1_MOMENTS + DAY2_MOMENTS)
    server.fault("/stripe/v1/customers", status=429, headers={"Retry-After": "1"},
                 body={"error": {"message": "Too many requests"}}, after=1)
    # a backoff of 0.1 s: only the Retry-After header can make the client wait a second
    root = project(tmp_path, stripe_block(server, "endpoints: [customers], backoff_factor: 0.1"), source_type="stripe")

    _, loaded = sync(root)

    assert loaded.row_counts == {"customers": 5}
    calls = server.requests_to("/stripe/v1/customers")
    assert [c.status for c in calls] == [200, 429, 200, 200]
    assert calls[2].param("starting_after") == calls[1].param("starting_after") == "cus_3"
    assert calls[2].at - calls[1].at >= 0.95


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials_fail_naming_source_endpoint_and_status(tmp_path, server, monkeypatch, status):
    server.stripe["customers"] = stripe_objects("cus", DAY1_MOMENTS)
    if status == 401:
        monkeypatch.setenv("TEST_API_TOKEN", "sk_test_revoked_key_000")
    else:
        server.fault("/stripe/v1/customers", status=403, body={"error": {"message": "restricted key"}})
    root = project(tmp_path, stripe_block(server, "endpoints: [customers]"), source_type="stripe", name="payments")

    error = extract_error(root, "payments")

    assert isinstance(error, IngestError)
    text = str(error)
    assert text.startswith("source 'payments': GET /stripe/v1/customers answered HTTP " + str(status))
    assert "environment variable 'TEST_API_TOKEN'" in text
    assert [r.status for r in server.requests_to("/stripe/")] == [status]  # not retried
    assert tables(root, "raw_payments") == set()


def test_connection_dropped_mid_page_fails_and_a_retry_loads_exactly_once(tmp_path, server):
    server.stripe["customers"] = stripe_objects("cus", DAY1_MOMENTS + DAY2_MOMENTS)
    drop = server.fault("/stripe/v1/customers", drop=True, after=1, times=2)
    root = project(tmp_path, stripe_block(server, "endpoints: [customers], max_attempts: 2, backoff_factor: 0.1"),
                   source_type="stripe")

    error = extract_error(root)

    assert isinstance(error, IngestError)
    assert str(error).startswith("source 'api': GET /stripe/v1/customers: the connection broke while the response "
                                 "was read (ChunkedEncodingError) after 2 attempt(s)")
    assert drop.times == 0
    loaded = load_project(root)
    with pytest.raises(IngestError, match="no extracted data of run"):
        load_source(loaded, loaded.source("api"), DuckDBHook(loaded.warehouse_path), owner="test")
    assert tables(root) == set()

    _, result = sync(root)

    assert result.row_counts == {"customers": 5}
    assert query(root, "select count(*), count(distinct id) from raw_api.customers") == [(5, 5)]
    # the failed run stored no cursor: the retry started from the start date again
    retry = [r for r in server.requests_to("/stripe/v1/customers") if r.param("starting_after") is None][-1]
    assert retry.param("created[gte]") == str(int(DAY1.timestamp()))


def test_missing_environment_variable_names_source_and_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    root = project(tmp_path, "{endpoints: [Charge]}", source_type="stripe", name="payments")

    error = extract_error(root, "payments")

    assert isinstance(error, MissingCredentialsError)
    assert str(error).startswith("source 'payments': stripe.stripe_secret_key_env (default) names the environment "
                                 "variable 'STRIPE_API_KEY', which is not set")


def test_secret_never_reaches_errors_or_logs(tmp_path, server, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    server.api["orders"] = [{"id": i, "updated_at": iso(at(DAY1, i))} for i in range(1, 4)]
    server.api_auth = ("api_key", "query", "hapikey", TOKEN)
    block = (f"{{base_url: '{server.url}/api', auth_type: api_key, auth_token_env: TEST_API_TOKEN, "
             "api_key_name: hapikey, api_key_location: query, "
             "endpoints: [{path: orders, data_selector: data, paginator: {type: json_link, next_url_path: next}}]}")
    root = project(tmp_path, block, source_type="rest_api")

    _, loaded = sync(root)
    assert loaded.row_counts == {"orders": 3}
    assert server.requests_to("/api/orders")[0].param("hapikey") == TOKEN  # the key did travel in the URL

    server.api_auth = ("api_key", "query", "hapikey", "rotated")
    error = extract_error(root)
    chain = "".join(traceback.format_exception(error))

    assert "GET /api/orders answered HTTP 401" in str(error)
    assert TOKEN not in chain
    assert any("/api/orders?" in r.getMessage() for r in caplog.records)  # urllib3 logged the request URLs ...
    assert TOKEN not in caplog.text  # ... without the key
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


# --- rest_api: Dango's block, every authentication scheme --------------------------------------------

ORDERS_ENDPOINT = ("endpoints: [{path: orders, name: orders, data_selector: data, params: {page_size: 2}, "
                   "paginator: {type: json_link, next_url_path: next}, "
                   "incremental: {cursor_path: updated_at, start_param: updated_since, end_param: updated_before}}]")


@pytest.mark.parametrize("scheme", ["bearer", "api_key_header", "basic", "oauth2", "connection"])
def test_rest_api_authenticates_and_pages_with_each_scheme(tmp_path, server, monkeypatch, scheme):
    server.api["orders"] = [{"id": i, "updated_at": iso(at(DAY1, i)), "total": i * 10} for i in range(1, 6)]
    base = f"base_url: '{server.url}/api', {ORDERS_ENDPOINT}"
    if scheme == "bearer":
        block = f"{{auth_type: bearer, auth_token_env: TEST_API_TOKEN, {base}}}"
    elif scheme == "api_key_header":
        server.api_auth = ("api_key", "header", "X-Api-Key", TOKEN)
        block = f"{{auth: {{type: api_key, api_key_env: TEST_API_TOKEN, name: X-Api-Key}}, {base}}}"
    elif scheme == "basic":
        server.api_auth = ("basic", "reporter", TOKEN)
        monkeypatch.setenv("TEST_API_USER", "reporter")
        block = f"{{basic_username_env: TEST_API_USER, basic_password_env: TEST_API_TOKEN, {base}}}"
    elif scheme == "oauth2":
        server.api_auth = ("oauth2",)
        server.oauth_clients = {"dango-client": TOKEN}
        monkeypatch.setenv("TEST_CLIENT_ID", "dango-client")
        block = (f"{{auth: {{type: oauth2_client_credentials, client_id_env: TEST_CLIENT_ID, "
                 f"client_secret_env: TEST_API_TOKEN, token_url: '{server.url}/oauth/token', scopes: [read]}}, {base}}}")
    else:
        monkeypatch.setenv("AIRFLOW_CONN_ORDERS_API", json.dumps({"conn_type": "http", "password": TOKEN}))
        block = f"{{conn_id: orders_api, {base}}}"
    root = project(tmp_path, block, source_type="rest_api")

    _, loaded = sync(root, interval=Interval(DAY1, at(DAY1, 4.5)))

    assert loaded.row_counts == {"orders": 4}
    assert query(root, "select count(*), count(distinct id), max(total) from raw_api.orders") == [(4, 4, 40)]
    first = server.requests_to("/api/orders")[0]
    assert (first.param("updated_since"), first.param("updated_before")) == ("2024-03-01T00:00:00Z",
                                                                             "2024-03-01T04:30:00Z")
    if scheme == "oauth2":
        token_request = server.requests_to("/oauth/token")[0]
        assert token_request.body["scope"] == "read"
