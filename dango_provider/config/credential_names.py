"""The credentials a source names: Airflow connection ids and environment variable names, never values."""

from __future__ import annotations

from typing import Any


def credential_names(options: Any) -> list[dict[str, str]]:
    """``[{"kind": "connection" | "env", "name": ...}]`` named in a source's type block.

    Only keys that hold a name by definition are read (``conn_id`` and ``*_env``); the values of
    connections and variables are never looked up.
    """
    found: list[dict[str, str]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and key == "conn_id":
                    found.append({"kind": "connection", "name": item})
                elif isinstance(item, str) and str(key).endswith("_env"):
                    found.append({"kind": "env", "name": item})
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    if options is not None and hasattr(options, "model_dump"):
        walk(options.model_dump())
    unique = {(c["kind"], c["name"]): c for c in found}
    return sorted(unique.values(), key=lambda c: (c["kind"], c["name"]))
