"""Options of API sources: ``rest_api`` (dlt's declarative REST API source) and the SaaS presets
built on it (``stripe``, ``github``, ``hubspot``). Secrets are named (an Airflow connection id or an
environment variable name), never written here."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RestApiAuth(_Strict):
    """How to authenticate. Values come from ``conn_id`` (an Airflow connection) or the ``*_env``
    environment variables; ``sources.yml`` never holds the secret itself."""

    type: Literal["bearer", "api_key", "http_basic", "oauth2_client_credentials"] = "bearer"
    token_env: str | None = None
    api_key_env: str | None = None
    name: str = Field(default="Authorization", description="Header or query parameter that carries the API key.")
    location: Literal["header", "query"] = "header"
    username_env: str | None = None
    password_env: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    token_url: str | None = None
    scopes: list[str] = Field(default_factory=list)


class RestApiOptions(_Strict):
    """dlt's REST API source configuration. ``resources`` and ``resource_defaults`` follow dlt's
    ``RESTAPIConfig`` (validated by dlt when the source is built)."""

    base_url: str
    conn_id: str | None = Field(default=None, description="Airflow connection holding the credentials.")
    auth: RestApiAuth | None = None
    # Dango's shorthand environment variable names
    auth_token_env: str | None = None
    api_key_env: str | None = None
    api_key_header: str | None = None
    basic_username_env: str | None = None
    basic_password_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    paginator: Any | None = None
    resource_defaults: dict[str, Any] = Field(default_factory=dict)
    resources: list[Any] = Field(min_length=1)


class StripeOptions(_Strict):
    """Dango's ``stripe`` block."""

    stripe_secret_key_env: str | None = None
    conn_id: str | None = None
    endpoints: list[str] | None = None
    start_date: str | None = None
    base_url: str = "https://api.stripe.com/v1"


class GithubOptions(_Strict):
    owner: str
    repos: list[str] = Field(default_factory=list)
    access_token_env: str | None = None
    conn_id: str | None = None
    endpoints: list[str] | None = None
    base_url: str = "https://api.github.com"


class HubspotOptions(_Strict):
    api_key_env: str | None = None
    conn_id: str | None = None
    endpoints: list[str] | None = None
    base_url: str = "https://api.hubapi.com"
