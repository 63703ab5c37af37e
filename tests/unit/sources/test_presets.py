"""The SaaS presets (stripe, github, hubspot): Dango's blocks accepted unchanged, and the requests each
run plans (endpoints, pagination, cursors per interval, keys) as the APIs document them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dango_provider.config.loader import load_project
from dango_provider.config.rest_api import AuthSpec, EnvVar
from dango_provider.exceptions import DangoConfigError
from dango_provider.sources import github, hubspot, stripe
from dango_provider.sources.interval import Interval
from dango_provider.sources.rest_api import latest_instant

START = datetime(2024, 5, 1, tzinfo=UTC)
END = datetime(2024, 5, 2, tzinfo=UTC)


def load(write_sources, project_dir, source_type: str, block: str, *, extra: str = ""):
    write_sources("version: '1.0'\ndefaults: {start_date: 2022-01-01}\nsources:\n  - name: app\n"
                  f"    type: {source_type}\n" + "".join(f"    {line}\n" for line in extra.splitlines() if line)
                  + f"    {source_type}:\n" + "".join(f"      {line}\n" for line in block.splitlines()))
    project = load_project(project_dir)
    return project, project.source("app")


def config_error(write_sources, project_dir, source_type: str, block: str) -> DangoConfigError:
    with pytest.raises(DangoConfigError) as info:
        load(write_sources, project_dir, source_type, block)
    return info.value


# --- Stripe ---------------------------------------------------------------------------------------------

def test_stripe_dango_block_from_the_docs(write_sources, project_dir):
    project, source = load(write_sources, project_dir, "stripe", """\
stripe_secret_key_env: STRIPE_API_KEY
endpoints:
  - charges
  - customers
  - invoices
start_date: "2024-01-01"
""")

    plan = stripe.plan(project, source, Interval())

    assert [r["name"] for r in plan.resources] == ["charges", "customers", "invoices"]
    assert plan.base_url == "https://api.stripe.com/v1"
    assert plan.auth == AuthSpec(kind="bearer", token=EnvVar("STRIPE_API_KEY", "stripe_secret_key_env"))
    assert plan.window.start == datetime(2024, 1, 1, tzinfo=UTC)  # the block's start_date wins


def test_stripe_dango_wizard_names_keep_their_table_names(write_sources, project_dir):
    project, source = load(write_sources, project_dir, "stripe",
                           "endpoints: [Charge, Customer, PaymentIntent, Subscription]\nend_date: 2024-06-01")

    resources = {r["name"]: r for r in stripe.plan(project, source, Interval()).resources}

    assert {n: r["endpoint"]["path"] for n, r in resources.items()} == {
        "charge": "charges", "customer": "customers", "payment_intent": "payment_intents",
        "subscription": "subscriptions"}
    assert resources["subscription"]["endpoint"]["params"] == {"limit": 100, "status": "all"}
    # end_date bounds even a run without interval
    assert resources["charge"]["endpoint"]["incremental"]["end_value"] == int(datetime(2024, 6, 1, tzinfo=UTC)
                                                                              .timestamp())


def test_stripe_default_endpoints_pagination_and_bounded_cursor(write_sources, project_dir):
    project, source = load(write_sources, project_dir, "stripe", "page_size: 25")

    plan = stripe.plan(project, source, Interval(START, END))

    assert [r["name"] for r in plan.resources] == ["customers", "charges", "invoices", "subscriptions", "products",
                                                   "prices", "payment_intents"]
    customers = plan.resources[0]
    assert customers == {
        "name": "customers",
        "primary_key": "id",
        "endpoint": {
            "path": "customers",
            "params": {"limit": 25},
            "data_selector": "data",
            "paginator": {"type": "cursor", "cursor_path": "data[-1].id", "cursor_param": "starting_after",
                          "has_more_path": "has_more"},
            "incremental": {"cursor_path": "created", "initial_value": 1714521600, "end_value": 1714608000,
                            "allow_external_schedulers": False, "start_param": "created[gte]",
                            "end_param": "created[lt]"},
        },
    }
    assert plan.resource_defaults == {"write_disposition": "merge"}


def test_stripe_start_date_falls_back_to_source_then_defaults(write_sources, project_dir):
    project, source = load(write_sources, project_dir, "stripe", "endpoints: [customers]", extra="start_date: 2023-03-03")
    assert stripe.plan(project, source, Interval()).window.start == datetime(2023, 3, 3, tzinfo=UTC)
    project, source = load(write_sources, project_dir, "stripe", "endpoints: [customers]")
    incremental = stripe.plan(project, source, Interval()).resources[0]["endpoint"]["incremental"]
    assert (incremental["initial_value"], incremental["end_value"]) == (1640995200, None)
    assert "end_param" not in incremental


def test_stripe_credentials_default_variable_or_connection(write_sources, project_dir):
    project, source = load(write_sources, project_dir, "stripe", "endpoints: [customers]")
    assert stripe.auth_spec(source.options) == AuthSpec(
        kind="bearer", token=EnvVar("STRIPE_API_KEY", "stripe_secret_key_env (default)"))
    project, source = load(write_sources, project_dir, "stripe", "conn_id: stripe_live")
    assert stripe.auth_spec(source.options) == AuthSpec(kind="bearer", conn_id="stripe_live")


@pytest.mark.parametrize("block, field, message", [
    ("endpoints: [Widget]", "sources[0].stripe.endpoints",
     "unknown Stripe endpoint 'Widget'; choose from: customers, charges, invoices, subscriptions, products, prices, "
     "payment_intents, refunds, balance_transactions, disputes, payouts, coupons, events"),
    ("endpoints: [Charge, charge]", "sources[0].stripe.endpoints", "an endpoint is listed twice"),
    ("endpoints: []", "sources[0].stripe.endpoints", "endpoints is empty; omit it to read the default endpoints"),
    ("start_date: 2024-02-01\nend_date: 2024-01-01", "sources[0].stripe", "end_date must be after start_date"),
    ("page_size: 500", "sources[0].stripe.page_size", "Input should be less than or equal to 100"),
])
def test_stripe_invalid_blocks(write_sources, project_dir, block, field, message):
    error = config_error(write_sources, project_dir, "stripe", block)
    assert (error.field, error.message) == (field, message)


# --- GitHub ---------------------------------------------------------------------------------------------

def test_github_dango_block_with_owner_and_name(write_sources, project_dir):
    project, source = load(write_sources, project_dir, "github",
                           "access_token_env: GITHUB_ACCESS_TOKEN\nowner: my-org\nname: my-repo")

    plan = github.plan(project, source, Interval(START, END))

    assert [(r["name"], r["table_name"], r["endpoint"]["path"]) for r in plan.resources] == [
        ("issues__my_org_my_repo", "issues", "repos/my-org/my-repo/issues"),
        ("pull_requests__my_org_my_repo", "pull_requests", "repos/my-org/my-repo/pulls"),
        ("commits__my_org_my_repo", "commits", "repos/my-org/my-repo/commits"),
    ]
    assert plan.paginator == "header_link"
    assert plan.headers == {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    assert plan.auth == AuthSpec(kind="bearer", token=EnvVar("GITHUB_ACCESS_TOKEN", "access_token_env"))
    issues, pulls, commits = plan.resources
    assert issues["primary_key"] == "id" and pulls["primary_key"] == "id"
    assert commits["primary_key"] == ["repository", "sha"]
    assert issues["endpoint"]["params"] == {"state": "all", "sort": "updated", "direction": "asc", "per_page": 100}
    assert issues["endpoint"]["incremental"] == {
        "cursor_path": "updated_at", "initial_value": "2024-05-01T00:00:00Z", "end_value": "2024-05-02T00:00:00Z",
        "allow_external_schedulers": False, "last_value_func": latest_instant, "start_param": "since",
        "row_order": "asc"}
    assert pulls["endpoint"]["params"]["direction"] == "desc"
    assert pulls["endpoint"]["incremental"]["row_order"] == "desc"
    assert "start_param" not in pulls["endpoint"]["incremental"]  # the pulls list has no time filter
    assert commits["endpoint"]["incremental"]["cursor_path"] == "commit.committer.date"
    assert (commits["endpoint"]["incremental"]["start_param"], commits["endpoint"]["incremental"]["end_param"]) == (
        "since", "until")
    assert commits["endpoint"]["response_actions"] == [{"status_code": 409, "action": "ignore"}]
    assert [github.repository_of(r) for r in plan.resources] == ["my-org/my-repo"] * 3


def test_github_repos_lists_and_endpoint_narrowing(write_sources, project_dir):
    project, source = load(write_sources, project_dir, "github",
                           "owner: octo\nrepos: [one, other-org/two, one]\nendpoints: [issues]\npage_size: 10")

    plan = github.plan(project, source, Interval())

    assert [r["endpoint"]["path"] for r in plan.resources] == ["repos/octo/one/issues", "repos/other-org/two/issues"]
    assert plan.resources[0]["endpoint"]["params"]["per_page"] == 10
    assert plan.resources[0]["endpoint"]["incremental"]["end_value"] is None
    assert github.auth_spec(source.options).token == EnvVar("GITHUB_ACCESS_TOKEN", "access_token_env (default)")


def test_github_dango_repos_form_without_owner(write_sources, project_dir):
    project, source = load(write_sources, project_dir, "github", "repos: [getdango/dango]")
    assert source.options.repositories == ["getdango/dango"]


@pytest.mark.parametrize("block, message", [
    ("owner: octo", "name the repository: owner + name (or repo), or repos: [owner/repo, ...]"),
    ("repos: [lonely]", "'lonely' is not a repository; write owner/repo, or set owner and the repo name"),
    ("owner: octo\nname: a/b/c", "'a/b/c' is not a repository; write owner/repo, or set owner and the repo name"),
])
def test_github_invalid_blocks(write_sources, project_dir, block, message):
    error = config_error(write_sources, project_dir, "github", block)
    assert (error.field, error.message) == ("sources[0].github", message)


def test_github_unknown_endpoint(write_sources, project_dir):
    error = config_error(write_sources, project_dir, "github", "owner: o\nname: r\nendpoints: [releases]")
    assert error.field == "sources[0].github.endpoints[0]"
    assert error.message == "Input should be 'issues', 'pull_requests' or 'commits' (got 'releases')"


# --- HubSpot --------------------------------------------------------------------------------------------

def test_hubspot_dango_block_reads_objects_through_search(write_sources, project_dir):
    project, source = load(write_sources, project_dir, "hubspot",
                           "api_key_env: HUBSPOT_API_KEY\nresources:\n  - contacts\n  - companies\n  - deals")

    plan = hubspot.plan(project, source, Interval(START, END))

    assert [r["name"] for r in plan.resources] == ["contacts", "companies", "deals"]
    assert plan.auth == AuthSpec(kind="bearer", token=EnvVar("HUBSPOT_API_KEY", "api_key_env"))
    contacts = plan.resources[0]
    incremental = contacts["endpoint"].pop("incremental")
    assert contacts == {
        "name": "contacts",
        "primary_key": "id",
        "endpoint": {
            "path": "crm/v3/objects/contacts/search",
            "method": "POST",
            "json": {
                "filterGroups": [{"filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": "{incremental.start_value}"},
                    {"propertyName": "lastmodifieddate", "operator": "LT", "value": "{incremental.end_value}"}]}],
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "limit": 100,
            },
            "data_selector": "results",
            "paginator": {"type": "cursor", "cursor_path": "paging.next.after", "cursor_body_path": "after"},
        },
    }
    assert (incremental["cursor_path"], incremental["initial_value"], incremental["end_value"]) == (
        "updatedAt", "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z")
    assert incremental["convert"] is hubspot.epoch_ms and incremental["row_order"] == "asc"
    companies = plan.resources[1]["endpoint"]["json"]
    assert {f["propertyName"] for f in companies["filterGroups"][0]["filters"]} == {"hs_lastmodifieddate"}


def test_hubspot_defaults_properties_and_unbounded_filter(write_sources, project_dir):
    project, source = load(write_sources, project_dir, "hubspot",
                           "properties: {contacts: [email, firstname]}\npage_size: 50")

    plan = hubspot.plan(project, source, Interval())

    assert [r["name"] for r in plan.resources] == ["contacts", "companies", "deals", "tickets"]
    body = plan.resources[0]["endpoint"]["json"]
    assert body["properties"] == ["email", "firstname"] and body["limit"] == 50
    assert [f["operator"] for f in body["filterGroups"][0]["filters"]] == ["GTE"]  # no end without an interval
    assert "properties" not in plan.resources[1]["endpoint"]["json"]
    assert hubspot.auth_spec(source.options).token == EnvVar("HUBSPOT_API_KEY", "api_key_env (default)")


def test_hubspot_filter_values_are_epoch_milliseconds():
    assert hubspot.epoch_ms("2024-05-01T00:00:00Z") == "1714521600000"
    assert hubspot.epoch_ms("2024-05-01T00:00:00.007Z") == "1714521600007"
    assert hubspot.epoch_ms(None) is None


@pytest.mark.parametrize("block, message", [
    ("resources: [contacts, leads]",
     "unknown HubSpot object 'leads'; choose from: contacts, companies, deals, tickets, products, quotes, line_items"),
    ("resources: [owners, properties]", "resources names no CRM object this version reads; omit it to read contacts, "
     "companies, deals, tickets"),
    ("resources: [contacts]\nendpoints: [deals]", "use either resources (Dango's key) or endpoints, not both"),
    ("resources: []", "resources names no CRM object this version reads; omit it to read contacts, companies, deals, "
     "tickets"),
    ("properties: {leads: [x]}",
     "unknown HubSpot object 'leads'; choose from: contacts, companies, deals, tickets, products, quotes, line_items"),
])
def test_hubspot_invalid_blocks(write_sources, project_dir, block, message):
    error = config_error(write_sources, project_dir, "hubspot", block)
    assert (error.field, error.message) == ("sources[0].hubspot", message)


# --- dlt accepts every preset's configuration -------------------------------------------------------------

@pytest.mark.parametrize("source_type, block, expected", [
    ("stripe", "stripe_secret_key_env: PRESET_TOKEN\nendpoints: [Charge, customers]",
     {"charge": "charge", "customers": "customers"}),
    ("github", "owner: octo\nrepos: [one, two]\naccess_token_env: PRESET_TOKEN\nendpoints: [issues, commits]",
     {"issues__octo_one": "issues", "commits__octo_one": "commits", "issues__octo_two": "issues",
      "commits__octo_two": "commits"}),
    ("hubspot", "api_key_env: PRESET_TOKEN\nresources: [contacts, tickets]", {"contacts": "contacts",
                                                                              "tickets": "tickets"}),
])
def test_presets_build_dlt_sources(write_sources, project_dir, monkeypatch, source_type, block, expected):
    monkeypatch.setenv("PRESET_TOKEN", "tok-preset-123456")
    project, source = load(write_sources, project_dir, source_type, block, extra="write_disposition: append")
    module = {"stripe": stripe, "github": github, "hubspot": hubspot}[source_type]

    dlt_source = module.build(project, source, Interval(START, END))

    assert {name: r.table_name for name, r in dlt_source.resources.items()} == expected
    assert {r.write_disposition for r in dlt_source.resources.values()} == {"append"}
