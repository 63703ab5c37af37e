"""Credentials of sources: from an Airflow connection or from environment variables, never from
sources.yml. Every value read here is registered with Airflow's secrets masker, so it is replaced by
``***`` in task logs."""

from __future__ import annotations

import os

from dango_provider.core.secret_text import url_credentials
from dango_provider.exceptions import MissingCredentialsError


def mask(value: str | None) -> None:
    """Hide ``value`` in Airflow's task logs (a no-op outside Airflow), and the credentials of any URL in
    it on their own (a URL is often logged again in another form: its password must not show there)."""
    if not value:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - Airflow is a dependency; kept for plain-dlt use
        return
    mask_secret(value)
    for userinfo in url_credentials(value):
        user, _, password = userinfo.partition(":")
        mask_secret(password or user)


#: the Airflow connection ``dango secrets import`` keeps a Dango project's ``.dlt/secrets.toml`` in: its password
#: is a JSON object of dlt's environment variable names (``SOURCES__SHOP__API_KEY``) and their values
DLT_SECRETS_CONN_ID = "dango_dlt_secrets"


def apply_dlt_secrets() -> list[str]:
    """Put the imported ``.dlt/secrets.toml`` entries into this process's environment, where dlt's own
    configuration lookup finds them (a variable already set wins); return the values (masked in logs)."""
    import json

    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(DLT_SECRETS_CONN_ID)
    except Exception:  # not imported (Airflow's exception class differs across versions), or no Airflow here
        return []
    try:
        entries = json.loads(conn.password or "{}")
    except ValueError:
        return []
    values = []
    for name, value in entries.items():
        if isinstance(name, str) and isinstance(value, str) and value and not os.environ.get(name):
            mask(value)
            os.environ[name] = value
            values.append(value)
    return values


def imported_conn_id(variable: str) -> str:
    """The Airflow connection ``dango secrets import`` keeps environment variable ``variable`` in."""
    return variable.lower()


def _imported(variable: str) -> str | None:
    """The value of ``variable`` from the Airflow connection ``dango secrets import`` made of it (its password)."""
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(imported_conn_id(variable))
    except Exception:  # not defined (Airflow's exception class differs across versions) or no Airflow here
        return None
    return conn.password or None


def env_secret(variable: str, *, source: str, field: str) -> str:
    """The value of environment variable ``variable``, named in ``field`` of ``source``; when the variable is
    not set, the Airflow connection ``dango secrets import`` stored it in (a Dango project's ``.env``)."""
    value = os.environ.get(variable) or _imported(variable)
    if not value:
        raise MissingCredentialsError(
            f"source '{source}': {field} names the environment variable '{variable}', which is not set; "
            "set it in the environment of the Airflow workers, or store it as the Airflow connection "
            f"'{imported_conn_id(variable)}' (`dango secrets import` does that from a Dango project's .env), "
            "or use conn_id with an Airflow connection"
        )
    mask(value)
    return value


def connection(conn_id: str, *, source: str):
    """The Airflow connection ``conn_id`` with its password and extra masked in logs."""
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # Airflow raises AirflowNotFoundException (class differs across versions)
        raise MissingCredentialsError(
            f"source '{source}': Airflow connection '{conn_id}' is not defined ({type(exc).__name__}); "
            f"create it with `airflow connections add {conn_id} ...` or AIRFLOW_CONN_{conn_id.upper()}"
        ) from None
    mask(conn.password)
    for value in (conn.extra_dejson or {}).values():
        if isinstance(value, str):
            mask(value)
    return conn
