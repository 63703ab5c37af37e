"""Options of database sources (``sql_database`` and Dango's ``postgres`` / ``mysql`` names)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlTable(_Strict):
    """Per-table settings: cursor column for incremental loads, primary key, write disposition."""

    name: str
    incremental: str | None = Field(default=None, description="Cursor column (a timestamp or an increasing id).")
    primary_key: str | list[str] | None = None
    write_disposition: Literal["append", "merge", "replace"] | None = None


class SqlDatabaseOptions(_Strict):
    conn_id: str | None = Field(default=None, description="Airflow connection of the database.")
    credentials_env: str | None = Field(default=None, description="Environment variable holding a SQLAlchemy URL.")
    schema_name: str | None = Field(default=None, alias="schema")
    tables: list[str | SqlTable] = Field(default_factory=list, description="Tables to load; all of the schema when empty.")
    backend: Literal["pyarrow", "connectorx", "sqlalchemy"] = "pyarrow"
    chunk_size: int = 50_000
