"""Secrets never sit in sources.yml: a value where a ``*_env`` key wants a variable name, and credentials
inside any URL, are refused with file, line and field, and the message never repeats the value."""

from __future__ import annotations

import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import DangoConfigError
from tests.unit.helpers import line_of, run_dango

STRIPE_KEY = "sk_live_51HkWq2eZvKYlo2C0aBcDeFgH"
PASSWORD = "Pa55w0rd-9f8e7d"

SOURCE = """\
version: "1.0"
sources:
  - name: shop
    type: {type}
    {type}: {block}
"""

SECRET_CASES = {
    "stripe_key_in_env_field": ("stripe", f"{{stripe_secret_key_env: {STRIPE_KEY}}}",
                                "sources[0].stripe.stripe_secret_key_env", STRIPE_KEY),
    "rest_token_in_env_field": ("rest_api", f"{{base_url: 'https://api.example.com', endpoints: [a], "
                                f"auth_token_env: ghp_{STRIPE_KEY}}}", "sources[0].rest_api.auth_token_env", STRIPE_KEY),
    "upper_case_key_in_env_field": ("hubspot", "{api_key_env: AKIA4EXAMPLE7Q2WZ83K9XYZ}",
                                    "sources[0].hubspot.api_key_env", "AKIA4EXAMPLE7Q2WZ83K9XYZ"),
    "dsn_in_credentials_env": ("postgres", f"{{credentials_env: 'postgresql://app:{PASSWORD}@db:5432/shop'}}",
                               "sources[0].postgres.credentials_env", PASSWORD),
    "github_token_in_env_field": ("github", f"{{owner: o, name: r, access_token_env: 'ghp {STRIPE_KEY}'}}",
                                  "sources[0].github.access_token_env", STRIPE_KEY),
    "password_in_base_url": ("rest_api", f"{{base_url: 'https://admin:{PASSWORD}@api.example.com/v1', endpoints: [a]}}",
                             "sources[0].rest_api.base_url", PASSWORD),
    "token_as_user_in_url": ("rest_api", f"{{base_url: 'https://{STRIPE_KEY}@api.example.com/v1', endpoints: [a]}}",
                             "sources[0].rest_api.base_url", STRIPE_KEY),
    "keys_in_bucket_url": ("filesystem", f"{{bucket_url: 's3://AKIAX:{PASSWORD}@bucket/events', file_glob: '*.csv'}}",
                           "sources[0].filesystem.bucket_url", PASSWORD),
    "url_in_a_parameter": ("rest_api", "{base_url: 'https://api.example.com', endpoints: [{path: a, params: "
                           f"{{callback: 'https://u:{PASSWORD}@hooks.example.com/x'}}}}]}}",
                           "sources[0].rest_api.endpoints[0].params.callback", PASSWORD),
    "url_in_dlt_native_kwargs": ("dlt_native", "{source_module: feed, source_function: feed, function_kwargs: "
                                 f"{{url: 'ftp://me:{PASSWORD}@files.example.com/'}}}}",
                                 "sources[0].dlt_native.function_kwargs.url", PASSWORD),
}


@pytest.mark.parametrize("case", sorted(SECRET_CASES))
def test_a_secret_in_sources_yml_is_refused_without_echo(write_sources, project_dir, case):
    type_, block, field, secret = SECRET_CASES[case]
    text = SOURCE.format(type=type_, block=block)
    sources_file = write_sources(text)

    with pytest.raises(DangoConfigError) as info:
        load_project(project_dir)

    errors = getattr(info.value, "errors", [info.value])
    assert [(e.field, e.line) for e in errors] == [(field, line_of(text, f"{type_}:"))]
    assert secret not in str(info.value)
    assert ("environment variable" in errors[0].message) or ("URL with credentials" in errors[0].message)
    proc = run_dango("validate", str(project_dir))
    assert proc.returncode == 1
    assert f"{sources_file}:" in proc.stderr and field in proc.stderr
    assert secret not in proc.stdout + proc.stderr


@pytest.mark.parametrize("type_, block", [
    ("stripe", "{stripe_secret_key_env: STRIPE_API_KEY}"),
    ("hubspot", "{api_key_env: HUBSPOT_API_KEY_2024}"),
    ("postgres", "{credentials_env: SHOP_DB_URL}"),
    ("rest_api", "{base_url: 'https://api.example.com/v1', endpoints: [a], auth_token_env: SHOP_TOKEN}"),
    ("rest_api", "{base_url: 'https://api.example.com/v1?next=mailto:x@y', endpoints: [a]}"),
])
def test_variable_names_and_plain_urls_are_accepted(write_sources, project_dir, type_, block):
    write_sources(SOURCE.format(type=type_, block=block))
    assert load_project(project_dir).config.sources[0].type == type_


def test_credentials_of_a_url_are_masked_in_task_logs_on_their_own():
    """A URL held in a variable (credentials_env) is masked whole and its password alone, as drivers log
    the URL again in other forms. Airflow's own secrets masker does the masking."""
    from airflow.sdk._shared.secrets_masker import redact as masker_redact  # the masker of task processes

    from dango_provider.sources.credentials import mask

    mask(f"postgresql://app:{PASSWORD}@db.internal:5432/shop")

    assert masker_redact(f"connecting as app with password {PASSWORD}") == "connecting as app with password ***"
    assert PASSWORD not in masker_redact(f"postgresql+psycopg2://app:{PASSWORD}@db.internal/shop")
