"""Recognise secrets written where sources.yml wants none: a value in a field that names an environment
variable, and credentials inside a URL. Messages never repeat the value. Pure code."""

from __future__ import annotations

import re

#: an environment variable name as sources.yml accepts it: upper case, as every shell and Dango use them
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
#: ``scheme://userinfo@``: user, user:password or a token before the host
_URL_USERINFO = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://([^/\s?#@]+)@")


def env_name_problem(value: object) -> str | None:
    """Why ``value`` is not the name of an environment variable (None: it is one). Never quotes it."""
    if isinstance(value, str) and _ENV_NAME.fullmatch(value) and not _looks_random(value):
        return None
    return ("this field names an environment variable (upper-case letters, digits and '_', for example "
            "STRIPE_API_KEY); the value given is not one and is not shown here, in case it is the secret itself: "
            "put the secret into an environment variable (or an Airflow connection) and write its name here")


def _looks_random(name: str) -> bool:
    """A part of 16+ characters mixing letters and at least 3 digits reads as a key, not as a name."""
    return any(len(part) >= 16 and sum(c.isdigit() for c in part) >= 3 and any(c.isalpha() for c in part)
               for part in name.split("_"))


def url_credentials(text: str) -> list[str]:
    """The user information (``user:password``) of every URL in ``text``."""
    return _URL_USERINFO.findall(text)


def scrub_url_credentials(text: str) -> str:
    """``text`` with the user information of every URL replaced by ``***``."""
    return _URL_USERINFO.sub(lambda m: m.group(0).replace(m.group(1), "***"), text)


URL_CREDENTIALS_MESSAGE = (
    "a URL with credentials (user:password@host) is not allowed in sources.yml, where anyone who can read the "
    "project can read them; they are not shown here: remove them from the URL and use an Airflow connection "
    "(conn_id) or an environment variable (a *_env key)")
