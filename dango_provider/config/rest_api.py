"""Options of API sources: ``rest_api`` (dlt's declarative REST API source) and the SaaS presets
built on it (``stripe``, ``github``, ``hubspot``).

Dango's own blocks are accepted unchanged: ``rest_api`` with ``endpoints``, ``auth_type`` and the
``*_env`` names, ``stripe`` with ``stripe_secret_key_env``/``endpoints``/``start_date``/``end_date``,
``github`` with ``owner`` + ``name`` (or ``repos``), ``hubspot`` with ``api_key_env``/``resources``.
dlt's own ``resources``/``resource_defaults`` form is accepted by ``rest_api`` too.

Secrets are named (an Airflow connection id or an environment variable name), never written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from dango_provider.core.secret_text import env_name_problem
from dango_provider.core.times import as_utc

WriteDispositionName = Literal["append", "merge", "replace"]
AuthKind = Literal["bearer", "api_key", "http_basic", "oauth2_client_credentials", "none"]
CursorFormat = Literal["iso8601", "unix", "unix_ms", "date"]

_SECRET_HEADER = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str | None) -> str | None:
    if value == "":
        return None  # Dango writes '' for a secret it was not given
    problem = None if value is None else env_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]


@dataclass(frozen=True)
class EnvVar:
    """An environment variable holding a secret, and the key of ``sources.yml`` that names it."""

    name: str
    field: str


@dataclass(frozen=True)
class AuthSpec:
    """How a source authenticates, holding the names of its secrets (never their values).

    ``kind`` None: take the kind from the Airflow connection ``conn_id`` when there is one, else no auth.
    A value without an environment variable comes from the connection (password, login, extras).
    """

    kind: AuthKind | None = None
    conn_id: str | None = None
    token: EnvVar | None = None
    api_key: EnvVar | None = None
    api_key_name: str | None = None
    api_key_location: Literal["header", "query"] | None = None
    username: EnvVar | None = None
    password: EnvVar | None = None
    client_id: EnvVar | None = None
    client_secret: EnvVar | None = None
    token_url: str | None = None
    scopes: tuple[str, ...] = ()
    #: header name -> environment variable whose value the header carries (``${VAR}`` header values)
    secret_headers: tuple[tuple[str, EnvVar], ...] = ()


class HttpOptions(_Strict):
    """How requests are made: retried on HTTP 429 (waiting for ``Retry-After``), 5xx and dropped
    connections, ``max_attempts`` times in all, waiting ``backoff_factor * 2**n`` seconds otherwise."""

    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    backoff_factor: Annotated[float, Field(ge=0, le=60)] = 1.0
    timeout: Annotated[float, Field(gt=0, le=3600)] = Field(default=60.0, description="Seconds per request.")


class RestApiAuth(_Strict):
    """The ``auth:`` block of ``rest_api``. Values come from the ``*_env`` environment variables or,
    for those not named, from the Airflow connection ``conn_id``."""

    type: Literal["bearer", "api_key", "http_basic", "basic", "oauth2_client_credentials", "none"] = "bearer"
    token_env: EnvName | None = None
    api_key_env: EnvName | None = None
    name: str | None = Field(default=None, description="Header or query parameter that carries the API key.")
    location: Literal["header", "query"] | None = None
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    client_id_env: EnvName | None = None
    client_secret_env: EnvName | None = None
    token_url: str | None = None
    scopes: list[str] = Field(default_factory=list)


class EndpointIncremental(_Strict):
    """An incremental cursor of a Dango-style endpoint: ``cursor_path`` in each record, sent to the API
    as ``start_param`` (and ``end_param`` for a bounded run)."""

    cursor_path: str
    start_param: str | None = None
    end_param: str | None = None
    cursor_format: CursorFormat = Field(
        default="iso8601",
        description="How the cursor is written: iso8601 (2024-01-31T00:00:00Z), unix (seconds), unix_ms, date.")
    row_order: Literal["asc", "desc"] | None = Field(
        default=None, description="Order of the records by cursor; lets a bounded run stop reading early.")


class Endpoint(_Strict):
    """One entry of Dango's ``endpoints:`` list (a plain path string is accepted too)."""

    path: str
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    data_selector: str | None = None
    paginator: str | dict[str, Any] | None = None
    primary_key: str | list[str] | None = None
    write_disposition: WriteDispositionName | None = None
    incremental: EndpointIncremental | None = None

    @property
    def resource_name(self) -> str:
        return self.name or self.path.strip("/").replace("/", "_")


def _dlt_resource(value: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value.get("name"), str) or not value["name"]:
        raise ValueError("a resource in dlt's form needs a 'name' (and usually an 'endpoint')")
    return value


#: A resource in dlt's ``RESTAPIConfig`` form (``{name, endpoint: {...}, primary_key, ...}``), checked by
#: dlt when the source is built
DltResource = Annotated[dict[str, Any], AfterValidator(_dlt_resource)]


def _entry_form(value: Any) -> str:
    """Which form an ``endpoints`` entry is written in, so that only that form's errors are reported."""
    if isinstance(value, str):
        return "path"
    if isinstance(value, Endpoint) or (isinstance(value, dict) and "path" in value and "endpoint" not in value):
        return "dango"
    return "dlt"


EndpointEntry = Annotated[
    Annotated[str, Tag("path")] | Annotated[Endpoint, Tag("dango")] | Annotated[DltResource, Tag("dlt")],
    Discriminator(_entry_form)]
ResourceEntry = Annotated[
    Annotated[str, Tag("path")] | Annotated[DltResource, Tag("dlt")],
    Discriminator(lambda value: "path" if isinstance(value, str) else "dlt")]


class RestApiOptions(HttpOptions):
    """A REST API: Dango's ``rest_api`` block, or dlt's ``resources``/``resource_defaults`` form.

    Records are merged on ``id`` by default (Dango's behaviour); an endpoint's ``primary_key`` and
    ``write_disposition``, ``resource_defaults`` and the source's own keys override that.
    """

    base_url: str
    conn_id: str | None = Field(default=None, description="Airflow connection holding the credentials.")
    auth: RestApiAuth | None = None
    # Dango's flat authentication keys
    auth_type: Literal["bearer", "api_key", "basic", "http_basic", "oauth2_client_credentials", "custom_header",
                       "none"] | None = None
    auth_token_env: EnvName | None = None
    api_key_env: EnvName | None = None
    api_key_name: str | None = None
    api_key_location: Literal["header", "query"] | None = None
    basic_username_env: EnvName | None = None
    basic_password_env: EnvName | None = None
    access_token_url: str | None = None
    client_id_env: EnvName | None = None
    client_secret_env: EnvName | None = None
    auth_header_name: str | None = None
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers; a value '${VAR}' is read from environment variable VAR.")
    paginator: str | dict[str, Any] | None = None
    endpoints: list[EndpointEntry] = Field(default_factory=list)
    resources: list[ResourceEntry] = Field(default_factory=list)
    resource_defaults: dict[str, Any] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"'{value}' is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _shape(self) -> RestApiOptions:
        if not self.endpoints and not self.resources:
            raise ValueError("list the API's endpoints: 'endpoints' (Dango's form: paths or {path, name, params, "
                             "...}) or 'resources' (dlt's form)")
        flat = [k for k in ("auth_type", "auth_token_env", "api_key_env", "basic_username_env", "basic_password_env",
                            "access_token_url", "client_id_env", "client_secret_env", "auth_header_name",
                            "api_key_name", "api_key_location") if getattr(self, k) is not None]
        if self.auth is not None and flat:
            raise ValueError(f"use either the 'auth:' block or the flat keys ({', '.join(flat)}), not both")
        names = [endpoint_name(e) for e in (*self.endpoints, *self.resources)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"endpoint names must be unique; repeated: {', '.join(duplicates)} "
                             "(give each endpoint its own 'name')")
        spec = self.auth_spec()
        missing = _missing_values(spec)
        if missing and not self.conn_id:
            raise ValueError(f"auth type '{spec.kind}' needs {' and '.join(missing)}: name the environment "
                             "variable(s) holding them, or set conn_id to an Airflow connection")
        return self

    def auth_spec(self) -> AuthSpec:
        """The authentication this block describes (names of secrets only)."""
        secret_headers = tuple(
            (name, EnvVar(match.group(1), f"headers.{name}"))
            for name, value in self.headers.items() if (match := _SECRET_HEADER.match(value)))
        if self.auth is not None:
            a = self.auth
            nested: AuthKind = "http_basic" if a.type == "basic" else a.type
            return AuthSpec(
                kind=nested, conn_id=self.conn_id, token=_env(a.token_env, "auth.token_env"),
                api_key=_env(a.api_key_env, "auth.api_key_env"), api_key_name=a.name, api_key_location=a.location,
                username=_env(a.username_env, "auth.username_env"),
                password=_env(a.password_env, "auth.password_env"),
                client_id=_env(a.client_id_env, "auth.client_id_env"),
                client_secret=_env(a.client_secret_env, "auth.client_secret_env"),
                token_url=a.token_url, scopes=tuple(a.scopes), secret_headers=secret_headers)
        kind = self._flat_kind()
        token = _env(self.auth_token_env, "auth_token_env")
        api_key = _env(self.api_key_env, "api_key_env")
        if kind == "api_key" and api_key is None:
            api_key, token = token, None  # Dango keeps an API key in auth_token_env
        if self.unauthenticated_bearer:
            kind = "none"
        name, location = self.api_key_name, self.api_key_location
        if self.auth_type == "custom_header":
            name, location = self.auth_header_name or "Authorization", "header"
        return AuthSpec(
            kind=kind, conn_id=self.conn_id, token=token, api_key=api_key, api_key_name=name,
            api_key_location=location, username=_env(self.basic_username_env, "basic_username_env"),
            password=_env(self.basic_password_env, "basic_password_env"),
            client_id=_env(self.client_id_env, "client_id_env"),
            client_secret=_env(self.client_secret_env, "client_secret_env"),
            token_url=self.access_token_url, secret_headers=secret_headers)

    @property
    def unauthenticated_bearer(self) -> bool:
        """Dango writes ``auth_type: bearer`` (its default) also for an API without a token: no variable,
        no connection. Such a block sends no authentication, as Dango's run does."""
        return (self.auth is None and self.auth_type == "bearer" and self.auth_token_env is None
                and self.conn_id is None)

    def _flat_kind(self) -> AuthKind | None:
        explicit = {"basic": "http_basic", "custom_header": "api_key"}.get(self.auth_type or "", self.auth_type)
        if explicit is not None:
            return explicit  # type: ignore[return-value]
        # no auth_type: what the named variables imply (Dango's default 'bearer' needs auth_token_env)
        if self.basic_username_env or self.basic_password_env:
            return "http_basic"
        if self.client_id_env or self.client_secret_env or self.access_token_url:
            return "oauth2_client_credentials"
        if self.api_key_env or self.api_key_name:
            return "api_key"
        if self.auth_token_env:
            return "bearer"
        return None


def endpoint_name(entry: str | Endpoint | dict[str, Any]) -> str:
    """The resource (and table) name of an ``endpoints``/``resources`` entry."""
    if isinstance(entry, str):
        return entry.strip("/").replace("/", "_")
    if isinstance(entry, Endpoint):
        return entry.resource_name
    return entry["name"]


def _env(name: str | None, field: str) -> EnvVar | None:
    return EnvVar(name, field) if name else None


def _missing_values(spec: AuthSpec) -> list[str]:
    """Secrets ``spec`` needs that no environment variable provides (they must come from a connection)."""
    needs = {
        "bearer": [("a token", spec.token)],
        "api_key": [("an API key", spec.api_key)],
        "http_basic": [("a username", spec.username), ("a password", spec.password)],
        "oauth2_client_credentials": [("a client id", spec.client_id), ("a client secret", spec.client_secret)],
    }.get(spec.kind or "", [])
    missing = [what for what, env in needs if env is None]
    if spec.kind == "oauth2_client_credentials" and not spec.token_url:
        missing.append("a token URL (token_url)")
    return missing


# --- SaaS presets -----------------------------------------------------------------------------------

#: Stripe list endpoints the preset reads (each pages with has_more/starting_after and filters on created)
STRIPE_ENDPOINTS = ("customers", "charges", "invoices", "subscriptions", "products", "prices", "payment_intents",
                    "refunds", "balance_transactions", "disputes", "payouts", "coupons", "events")
STRIPE_DEFAULT_ENDPOINTS = ("customers", "charges", "invoices", "subscriptions", "products", "prices",
                            "payment_intents")
GithubEndpoint = Literal["issues", "pull_requests", "commits"]
GITHUB_ENDPOINTS: tuple[GithubEndpoint, ...] = ("issues", "pull_requests", "commits")
HUBSPOT_OBJECTS = ("contacts", "companies", "deals", "tickets", "products", "quotes", "line_items")
#: Dango's other HubSpot resources (its wizard selects them by default): accepted, not read yet
HUBSPOT_NOT_READ_YET = ("owners", "properties", "pipelines_deals", "pipelines_tickets")
HUBSPOT_DEFAULT_OBJECTS = ("contacts", "companies", "deals", "tickets")


def snake_case(name: str) -> str:
    """``PaymentIntent`` -> ``payment_intent``; ``payment_intents`` stays."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip()).lower().replace("-", "_").replace(" ", "_")


def stripe_endpoint(name: str) -> str:
    """The Stripe list endpoint of a name as written in sources.yml: ``Charge``, ``charge`` and
    ``charges`` all read ``/v1/charges``. Raises ValueError for an endpoint the preset does not read."""
    snake = snake_case(name)
    for candidate in (snake, snake + "s", snake + "es"):
        if candidate in STRIPE_ENDPOINTS:
            return candidate
    raise ValueError(f"unknown Stripe endpoint '{name}'; choose from: " + ", ".join(STRIPE_ENDPOINTS))


class _PresetOptions(HttpOptions):
    conn_id: str | None = Field(default=None, description="Airflow connection whose password is the API token.")
    page_size: Annotated[int, Field(ge=1, le=100)] | None = Field(
        default=None, description="Records per request (the API's maximum when omitted).")


class StripeOptions(_PresetOptions):
    """Dango's ``stripe`` block. ``endpoints`` narrows the default endpoints; a name is written as in
    Dango (``Charge``, ``PaymentIntent``) or as the API path (``charges``); the table is named as written."""

    stripe_secret_key_env: EnvName | None = Field(
        default=None, description="Environment variable with the secret key; STRIPE_API_KEY without conn_id.")
    endpoints: list[str] | None = None
    start_date: date | datetime | None = None
    end_date: date | datetime | None = None
    base_url: str = "https://api.stripe.com/v1"

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("endpoints is empty; omit it to read the default endpoints")
            for name in value:
                stripe_endpoint(name)
            tables = [snake_case(n) for n in value]
            if len(set(tables)) != len(tables):
                raise ValueError("an endpoint is listed twice")
        return value

    @model_validator(mode="after")
    def _range(self) -> StripeOptions:
        if self.start_date and self.end_date and as_utc(self.end_date) <= as_utc(self.start_date):
            raise ValueError("end_date must be after start_date")
        return self

    @property
    def secret_env(self) -> str | None:
        return self.stripe_secret_key_env or (None if self.conn_id else "STRIPE_API_KEY")

    @property
    def tables(self) -> dict[str, str]:
        """Table name -> Stripe endpoint."""
        names = self.endpoints or list(STRIPE_DEFAULT_ENDPOINTS)
        return {snake_case(n): stripe_endpoint(n) for n in names}


class GithubOptions(_PresetOptions):
    """Dango's ``github`` block: ``owner`` + ``name`` (one repository) or ``repos`` (``repo`` or
    ``owner/repo`` each). ``endpoints`` narrows issues, pull_requests, commits."""

    owner: str | None = None
    name: str | None = Field(default=None, description="Repository name (Dango's key).")
    repo: str | None = None
    repos: list[str] = Field(default_factory=list)
    access_token_env: EnvName | None = Field(
        default=None, description="Environment variable with the token; GITHUB_ACCESS_TOKEN without conn_id.")
    endpoints: list[GithubEndpoint] | None = None
    base_url: str = "https://api.github.com"

    @model_validator(mode="after")
    def _repositories(self) -> GithubOptions:
        if not (self.name or self.repo or self.repos):
            raise ValueError("name the repository: owner + name (or repo), or repos: [owner/repo, ...]")
        for full in self.repositories:
            if not re.match(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", full):
                raise ValueError(f"'{full}' is not a repository; write owner/repo, or set owner and the repo name")
        if self.endpoints is not None and not self.endpoints:
            raise ValueError("endpoints is empty; omit it to read issues, pull_requests and commits")
        return self

    @property
    def repositories(self) -> list[str]:
        """``owner/repo`` of each repository, in order, without repeats."""
        names = [n for n in (self.name, self.repo, *self.repos) if n]
        out: list[str] = []
        for name in names:
            full = name if "/" in name else f"{self.owner}/{name}" if self.owner else name
            if full not in out:
                out.append(full)
        return out

    @property
    def secret_env(self) -> str | None:
        return self.access_token_env or (None if self.conn_id else "GITHUB_ACCESS_TOKEN")


class HubspotOptions(_PresetOptions):
    """Dango's ``hubspot`` block: CRM objects (``resources``, or ``endpoints``) read through the CRM v3
    search endpoint, ordered and filtered by last modification."""

    api_key_env: EnvName | None = Field(
        default=None, description="Environment variable with the private app token; HUBSPOT_API_KEY without conn_id.")
    resources: list[str] | None = None
    endpoints: list[str] | None = None
    properties: dict[str, list[str]] = Field(
        default_factory=dict, description="Object -> properties to read (HubSpot's default properties when omitted).")
    base_url: str = "https://api.hubapi.com"

    @model_validator(mode="after")
    def _objects(self) -> HubspotOptions:
        if self.resources is not None and self.endpoints is not None:
            raise ValueError("use either resources (Dango's key) or endpoints, not both")
        for name in (*(self.objects), *self.not_read, *self.properties):
            if name not in HUBSPOT_OBJECTS and (name not in HUBSPOT_NOT_READ_YET or name in self.properties):
                raise ValueError(f"unknown HubSpot object '{name}'; choose from: " + ", ".join(HUBSPOT_OBJECTS))
        if not self.objects:
            raise ValueError("resources names no CRM object this version reads; omit it to read "
                             + ", ".join(HUBSPOT_DEFAULT_OBJECTS))
        return self

    @property
    def not_read(self) -> list[str]:
        """Resources Dango knows that this version does not read yet (said by ``dango validate``)."""
        chosen = self.resources if self.resources is not None else self.endpoints
        return [name for name in (chosen or []) if name in HUBSPOT_NOT_READ_YET]

    @property
    def objects(self) -> list[str]:
        chosen = self.resources if self.resources is not None else self.endpoints
        if chosen is None:
            return list(HUBSPOT_DEFAULT_OBJECTS)
        return [name for name in dict.fromkeys(chosen) if name not in HUBSPOT_NOT_READ_YET]

    @property
    def secret_env(self) -> str | None:
        return self.api_key_env or (None if self.conn_id else "HUBSPOT_API_KEY")
