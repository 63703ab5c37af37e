"""The ``github`` preset: issues, pull requests and commits of repositories through GitHub's REST API.

Per GitHub's REST API documentation, list endpoints page with the ``Link`` response header
(``rel="next"``) and ``per_page`` (at most 100); the token is sent as a bearer token with
``Accept: application/vnd.github+json``.

- ``issues`` (``/repos/{owner}/{repo}/issues?state=all&sort=updated&direction=asc``; pull requests
  appear here too): incremental on ``updated_at``, sent as ``since``; read oldest change first, so a
  bounded run stops at the interval end. Key ``id``.
- ``pull_requests`` (``/repos/{owner}/{repo}/pulls?state=all&sort=updated&direction=desc``): no time
  filter in the API; read newest change first until the interval start. Key ``id``.
- ``commits`` (``/repos/{owner}/{repo}/commits``): incremental on ``commit.committer.date``, sent as
  ``since``/``until``. Key ``repository`` + ``sha``; an empty repository (HTTP 409) has none.

Every row carries ``repository`` (``owner/repo``); several repositories share one table per endpoint.
"""

from __future__ import annotations

import re
from typing import Any

from dango_provider.config.loader import Project
from dango_provider.config.model import Source
from dango_provider.config.rest_api import GITHUB_ENDPOINTS, AuthSpec, EnvVar, GithubOptions
from dango_provider.sources.interval import Interval
from dango_provider.sources.rest_api import (
    ApiPlan,
    Window,
    api_source,
    incremental,
    page_limit,
    start_date,
    window,
    write_disposition,
)

MAX_PAGE = 100
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
REPOSITORY_COLUMN = "repository"


def build(project: Project, source: Source, interval: Interval):
    options: GithubOptions = source.options
    run = plan(project, source, interval)
    dlt_source = api_source(source, options, run)
    for config in run.resources:
        # before the incremental step: the key of commits includes the repository
        dlt_source.resources[config["name"]].add_map(_with_repository(repository_of(config)), insert_at=1)
    return dlt_source


def plan(project: Project, source: Source, interval: Interval) -> ApiPlan:
    options: GithubOptions = source.options
    win = window(interval, start_date(project, source))
    per_page = page_limit(options.page_size, MAX_PAGE)
    endpoints = options.endpoints or list(GITHUB_ENDPOINTS)
    resources = [resource(endpoint, repository, win, per_page)
                 for repository in options.repositories for endpoint in endpoints]
    return ApiPlan(base_url=options.base_url, auth=auth_spec(options), resources=resources, window=win,
                   resource_defaults={"write_disposition": write_disposition(project, source)},
                   headers=dict(HEADERS), paginator="header_link")


def resource(endpoint: str, repository: str, win: Window, per_page: int) -> dict[str, Any]:
    """The dlt resource of one endpoint of one repository (resource names are unique per repository;
    the table is the endpoint's)."""
    base = f"repos/{repository}"
    if endpoint == "issues":
        spec: dict[str, Any] = {
            "path": f"{base}/issues",
            "params": {"state": "all", "sort": "updated", "direction": "asc", "per_page": per_page},
            "incremental": incremental("updated_at", "iso8601", win, start_param="since", row_order="asc"),
        }
        key: Any = "id"
    elif endpoint == "pull_requests":
        spec = {
            "path": f"{base}/pulls",
            "params": {"state": "all", "sort": "updated", "direction": "desc", "per_page": per_page},
            "incremental": incremental("updated_at", "iso8601", win, row_order="desc"),
        }
        key = "id"
    else:
        spec = {
            "path": f"{base}/commits",
            "params": {"per_page": per_page},
            "incremental": incremental("commit.committer.date", "iso8601", win, start_param="since",
                                       end_param="until"),
            "response_actions": [{"status_code": 409, "action": "ignore"}],
        }
        key = [REPOSITORY_COLUMN, "sha"]
    spec["data_selector"] = "$"
    return {
        "name": f"{endpoint}__{re.sub(r'[^A-Za-z0-9]+', '_', repository).lower()}",
        "table_name": endpoint,
        "primary_key": key,
        "endpoint": spec,
    }


def repository_of(config: dict[str, Any]) -> str:
    """``owner/repo`` of a resource built by ``resource`` (its path is ``repos/{owner}/{repo}/...``)."""
    _, owner, repo, _ = config["endpoint"]["path"].split("/")
    return f"{owner}/{repo}"


def _with_repository(repository: str):
    def add(record: dict[str, Any]) -> dict[str, Any]:
        record[REPOSITORY_COLUMN] = repository
        return record

    return add


def auth_spec(options: GithubOptions) -> AuthSpec:
    env = options.secret_env
    field = "access_token_env" if options.access_token_env else "access_token_env (default)"
    return AuthSpec(kind="bearer", conn_id=options.conn_id, token=EnvVar(env, field) if env else None)
