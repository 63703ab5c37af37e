"""Credentials and HTTP session of API sources (``rest_api`` and the SaaS presets).

Secrets are read when a run starts, from the environment variables a source names or from its
Airflow connection, and turned into dlt's request authenticators. Every value read is registered
with Airflow's secrets masker and with a log filter on the HTTP libraries' loggers (urllib3 logs
request URLs, which carry an API key sent as a query parameter), so no log line shows it.

The session retries HTTP 429 (waiting for ``Retry-After``), 5xx and dropped connections, then
reports a failure as an ``IngestError`` naming the method, the endpoint path and the HTTP status -
never the full URL (its query string may hold a key) nor a chained library error that would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from dango_provider.config.rest_api import AuthSpec, EnvVar, HttpOptions
from dango_provider.exceptions import IngestError, MissingCredentialsError
from dango_provider.sources import credentials

log = logging.getLogger(__name__)

#: loggers that may print a request URL or a secret-bearing value; records created on them are redacted
_REDACTED_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "dlt", "dango_provider.sources.runner",
                     "dango_provider.sources.rest_api", __name__)
_MIN_SECRET_LENGTH = 4
_REDACTED = "***"


class _SecretRedactor(logging.Filter):
    """Replaces every registered secret in a log record's message by ``***``."""

    def __init__(self) -> None:
        super().__init__("dango_secrets")
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is left to the logging module to report
            return True
        redacted = message
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in redacted:
                redacted = redacted.replace(secret, _REDACTED)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_REDACTOR = _SecretRedactor()


_Text = TypeVar("_Text", str, None)


def protect(value: _Text) -> _Text:
    """Register ``value`` as a secret: masked in Airflow task logs, redacted on the HTTP loggers."""
    if not value:
        return value
    credentials.mask(value)
    if len(value) >= _MIN_SECRET_LENGTH:
        _REDACTOR.secrets.add(value)
        for name in _REDACTED_LOGGERS:
            logger = logging.getLogger(name)
            if _REDACTOR not in logger.filters:
                logger.addFilter(_REDACTOR)
    return value


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_REDACTOR.secrets, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return text


@dataclass
class ResolvedCredentials:
    """What a run authenticates with: a dlt authenticator, extra secret headers and, for error
    messages, where the credentials came from (variable or connection names, never values)."""

    auth: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    origin: str = "no credentials"


def resolve(spec: AuthSpec, *, source: str, block: str) -> ResolvedCredentials:
    """Read the secrets ``spec`` names and build the authenticator (an OAuth2 one requests its token
    through the default session until ``http_session``'s is given to it).

    :param source: source name, for messages
    :param block: the source's block (``rest_api``, ``stripe`` ...), for the field names in messages
    :raises MissingCredentialsError: a named environment variable or connection (or a value in it) is missing
    """
    reader = _Reader(spec, source=source, block=block)
    headers = {name: reader.env(env) for name, env in spec.secret_headers}
    kind: str = spec.kind or (_connection_kind(reader.connection(), spec.conn_id, source) if spec.conn_id else "none")
    auth = _authenticator(kind, spec, reader)
    return ResolvedCredentials(auth=auth, headers=headers, origin=reader.origin())


class _Reader:
    """Reads each secret from its environment variable, else from the Airflow connection."""

    def __init__(self, spec: AuthSpec, *, source: str, block: str):
        self.spec, self.source, self.block = spec, source, block
        self._conn: Any = None
        self.variables: list[str] = []

    def connection(self):
        if self._conn is None:
            self._conn = credentials.connection(self.spec.conn_id or "", source=self.source)
            protect(self._conn.password)
        return self._conn

    def env(self, env: EnvVar) -> str:
        self.variables.append(env.name)
        value = credentials.env_secret(env.name, source=self.source, field=f"{self.block}.{env.field}")
        protect(value)
        return value

    def value(self, env: EnvVar | None, attribute: str, what: str) -> str:
        """The secret in ``env``, else the connection's ``attribute`` (``password`` or ``login``)."""
        if env is not None:
            return self.env(env)
        if not self.spec.conn_id:
            raise MissingCredentialsError(
                f"source '{self.source}': {what} is needed but no environment variable names it and there is no "
                f"conn_id; set one in the '{self.block}' block")
        value: str | None = getattr(self.connection(), attribute)
        if not value:
            raise MissingCredentialsError(
                f"source '{self.source}': Airflow connection '{self.spec.conn_id}' has no {attribute} ({what})")
        return value

    def extra(self, *keys: str) -> Any:
        if not self.spec.conn_id:
            return None
        extra = self.connection().extra_dejson or {}
        return next((extra[k] for k in keys if extra.get(k)), None)

    def origin(self) -> str:
        parts = [f"environment variable '{v}'" for v in dict.fromkeys(self.variables)]
        if self._conn is not None:
            parts.append(f"Airflow connection '{self.spec.conn_id}'")
        return ", ".join(parts) or "no credentials"


def _connection_kind(conn, conn_id: str, source: str) -> str:
    extra = conn.extra_dejson or {}
    explicit = extra.get("auth_type")
    if explicit:
        kind = {"basic": "http_basic", "oauth2": "oauth2_client_credentials", "custom_header": "api_key"}.get(
            explicit, explicit)
        if kind not in ("bearer", "api_key", "http_basic", "oauth2_client_credentials", "none"):
            raise MissingCredentialsError(
                f"source '{source}': Airflow connection '{conn_id}' has extra auth_type '{explicit}'; use bearer, "
                "api_key, basic or oauth2_client_credentials")
        return kind
    if extra.get("token_url") or extra.get("access_token_url"):
        return "oauth2_client_credentials"
    if extra.get("api_key_name") or extra.get("api_key_location"):
        return "api_key"
    if conn.login and conn.password:
        return "http_basic"
    if conn.password:
        return "bearer"
    raise MissingCredentialsError(
        f"source '{source}': Airflow connection '{conn_id}' has no password: put the API token in its password "
        "(with a login for HTTP basic auth)")


def _authenticator(kind: str, spec: AuthSpec, reader: _Reader):
    from dlt.sources.helpers.rest_client.auth import (
        APIKeyAuth,
        BearerTokenAuth,
        HttpBasicAuth,
        OAuth2ClientCredentials,
    )

    auth: Any
    if kind == "none":
        return None
    if kind == "bearer":
        auth = BearerTokenAuth(token=reader.value(spec.token, "password", "an API token"))
    elif kind == "api_key":
        key = reader.value(spec.api_key or spec.token, "password", "an API key")
        name = spec.api_key_name or reader.extra("api_key_name") or "Authorization"
        location = spec.api_key_location or reader.extra("api_key_location") or "header"
        if location not in ("header", "query"):
            raise MissingCredentialsError(
                f"source '{reader.source}': API key location '{location}' is not header or query")
        auth = APIKeyAuth(name=name, api_key=key, location=location)
    elif kind == "http_basic":
        auth = HttpBasicAuth(username=protect(reader.value(spec.username, "login", "a username")),
                             password=reader.value(spec.password, "password", "a password"))
    else:
        token_url = spec.token_url or reader.extra("token_url", "access_token_url")
        if not token_url:
            raise MissingCredentialsError(
                f"source '{reader.source}': OAuth2 client credentials need a token URL: set token_url "
                f"(access_token_url) in the '{reader.block}' block or in the connection's extra")
        scopes = spec.scopes or reader.extra("scopes", "scope") or ()
        scope = scopes if isinstance(scopes, str) else " ".join(scopes)
        auth = OAuth2ClientCredentials(
            access_token_url=token_url,
            client_id=protect(reader.value(spec.client_id, "login", "an OAuth2 client id")),
            client_secret=reader.value(spec.client_secret, "password", "an OAuth2 client secret"),
            access_token_request_data={"scope": scope} if scope else {},
        )
    return auth.resolve()  # values are explicit: no lookup in dlt's config providers


def http_session(options: HttpOptions, *, base_url: str, resolved: ResolvedCredentials):
    """A requests session with dlt's retries (``options``) whose failures name the endpoint path.

    Secret headers of ``resolved`` are added to requests to ``base_url`` only, when they are sent.
    """
    from dlt.sources.helpers.requests.retry import Client

    client = Client(raise_for_status=False, request_timeout=options.timeout, request_max_attempts=options.max_attempts,
                    request_backoff_factor=options.backoff_factor, respect_retry_after_header=True)
    session = client.session
    # the guard wraps requests' own send
    session.send = _Guard(session.send, base_url=base_url, headers=resolved.headers,  # type: ignore[method-assign]
                          attempts=options.max_attempts, origin=resolved.origin)
    return session


class _Guard:
    """Wraps a session's (retrying) ``send``: adds secret headers, turns failures into clean errors."""

    def __init__(self, send, *, base_url: str, headers: dict[str, str], attempts: int, origin: str):
        self.send, self.headers, self.attempts, self.origin = send, headers, attempts, origin
        self.base_url = base_url.rstrip("/")

    def __call__(self, request, **kwargs):
        import requests

        if self.headers and self._to_api(request.url or ""):
            request.headers.update(self.headers)
        endpoint = f"{request.method} {urlsplit(request.url or '').path or '/'}"
        failure: str | None = None
        try:
            response = self.send(request, **kwargs)
        except requests.HTTPError as exc:
            if exc.response is None:
                failure = f"{endpoint}: request failed ({type(exc).__name__})"
            else:
                response = exc.response
        except requests.RequestException as exc:
            failure = (f"{endpoint}: {_connection_problem(exc)} after {self.attempts} attempt(s); "
                       "nothing from this run was loaded")
        if failure is not None:
            # raised outside the except block: no chained library error carries the URL
            raise IngestError(failure)
        if response.status_code >= 400:
            raise IngestError(self._status_message(endpoint, response))
        return response

    def _to_api(self, url: str) -> bool:
        return url == self.base_url or url.startswith((self.base_url + "/", self.base_url + "?"))

    def _status_message(self, endpoint: str, response) -> str:
        status = f"HTTP {response.status_code}" + (f" {response.reason}" if response.reason else "")
        if response.status_code in (401, 403):
            hint = (f"the API rejected the credentials ({self.origin})" if response.status_code == 401 else
                    f"the credentials ({self.origin}) are not allowed to read this endpoint")
            if response.status_code == 403 and response.headers.get("X-RateLimit-Remaining") == "0":
                hint = "the API's rate limit is exhausted (X-RateLimit-Remaining: 0); run again after it resets"
            return f"{endpoint} answered {status}: {hint}" + _api_message(response)
        if response.status_code == 429 or response.status_code >= 500:
            return f"{endpoint} answered {status} after {self.attempts} attempt(s)" + _api_message(response)
        return f"{endpoint} answered {status}" + _api_message(response)


def _connection_problem(exc: BaseException) -> str:
    import requests

    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke while the response was read (ChunkedEncodingError)"
    if isinstance(exc, requests.Timeout):
        return f"the request timed out ({type(exc).__name__})"
    if isinstance(exc, requests.ConnectionError):
        return f"the connection failed ({type(exc).__name__})"
    return f"the request failed ({type(exc).__name__})"


def _api_message(response) -> str:
    """The API's own error message (Stripe, GitHub and HubSpot put one in the JSON body), redacted."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = None
    if isinstance(body, dict):
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else body.get("message")
    if not isinstance(message, str) or not message.strip():
        return ""
    message = redact(" ".join(message.split()))
    return f" ({message[:200]})"
