"""Every name the provider derives: DAG and task ids, schemas, tables, models, assets, pools, files.

One object owns naming so that renaming is one edit. Pure code: no Airflow, dlt or Cosmos imports.
"""

from __future__ import annotations

import re
from pathlib import Path

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Words DuckDB and dbt reserve; a source or table with such a name would need quoting everywhere.
RESERVED = frozenset(
    """all alter analyse analyze and any array as asc asymmetric between both by case cast check collate column
    constraint create cross current_date current_time current_timestamp default deferrable desc distinct do else
    end except false fetch for foreign from full grant group having in initially inner intersect into is join
    lateral leading left like limit localtime localtimestamp natural not null offset on only or order outer
    pivot placing primary qualify references returning right select session_user some symmetric table then
    to trailing true union unique unpivot using variadic when where window with""".split()
)


def validate_identifier(value: str, what: str) -> str:
    """Return ``value`` when it is a safe lower-case SQL identifier, else raise ValueError saying why."""
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{what} '{value}' is invalid: use lower-case letters, digits and underscores, "
            "starting with a letter, at most 63 characters (for example 'shop_orders')"
        )
    if value in RESERVED:
        raise ValueError(f"{what} '{value}' is a reserved SQL word; choose another name (for example '{value}_data')")
    return value


def snake_case(name: str) -> str:
    """Column name as it appears in staging models: lower snake_case, safe as a bare identifier."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name).strip())
    text = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    if not text:
        text = "column"
    if text[0].isdigit():
        text = f"c_{text}"
    if text in RESERVED:
        text = f"{text}_"
    return text


def quote_identifier(name: str) -> str:
    """Double-quote an identifier for DuckDB, escaping embedded quotes."""
    return '"' + str(name).replace('"', '""') + '"'


def jinja_literal(text: str) -> str:
    """``text`` as Jinja source that renders to exactly ``text``: every ``{`` becomes ``{{ '{' }}``, so
    no ``{{``, ``{%`` or ``{#`` from configuration or data ever opens a Jinja tag in a dbt file."""
    return str(text).replace("{", "{{ '{' }}") if "{" in str(text) else str(text)


def quote_literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


class Naming:
    """The names of everything derived from a source name."""

    meta_schema = "dango_meta"
    transform_dag_id = "dango_transform"
    #: never loaded: the placeholder that makes Airflow list the invalid source entries as an import error
    invalid_sources_dag_id = "dango_invalid_sources"
    staging_schema = "staging"
    pipeline_prefix = "dango_"

    @staticmethod
    def ingest_dag_id(source: str) -> str:
        return f"dango_ingest__{source}"

    @staticmethod
    def raw_schema(source: str) -> str:
        return f"raw_{source}"

    @staticmethod
    def pipeline_name(source: str) -> str:
        return f"dango_{source}"

    @staticmethod
    def staging_model(source: str, table: str) -> str:
        return f"stg_{source}__{table}"

    @staticmethod
    def staging_dir(dbt_dir: Path, source: str) -> Path:
        return dbt_dir / "models" / "staging" / source

    @staticmethod
    def raw_asset_uri(source: str) -> str:
        return f"dango://raw/{source}"

    @staticmethod
    def raw_asset_name(source: str) -> str:
        return f"raw_{source}"

    @staticmethod
    def lock_path(warehouse: Path) -> Path:
        return warehouse.with_name(warehouse.name + ".lock")

    @staticmethod
    def state_dir(project_root: Path) -> Path:
        return project_root / ".dango" / "state"

    @staticmethod
    def source_state_dir(project_root: Path, source: str) -> Path:
        """One source's provider state: readiness, drift, PII, failure and built-load records."""
        return project_root / ".dango" / "state" / "sources" / source

    @staticmethod
    def governance_journal(project_root: Path) -> Path:
        """Where governance history is kept outside the warehouse (survives a rebuilt warehouse)."""
        return project_root / ".dango" / "state" / "governance"

    @staticmethod
    def manifest_path(dbt_dir: Path) -> Path:
        return dbt_dir / "target" / "manifest.json"

    @staticmethod
    def serving_dir(warehouse: Path) -> Path:
        """Where readers look: the published warehouse copy and the dbt docs site."""
        return warehouse.parent / "serving"

    @staticmethod
    def docs_dir(warehouse: Path) -> Path:
        """The published dbt docs site (index.html, manifest.json, catalog.json)."""
        return warehouse.parent / "serving" / "docs"
