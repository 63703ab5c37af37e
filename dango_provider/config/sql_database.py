"""Options of database sources (``sql_database`` and Dango's ``postgres`` / ``mysql`` names).

Dango's own block for a database source is ``{credentials_env, schema, table_names}``; it is accepted
as it is. The credentials are named here (an Airflow connection id or an environment variable that
holds a SQLAlchemy URL), never written here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

WriteDisposition = Literal["append", "merge", "replace"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlTable(_Strict):
    """Per-table settings: cursor column for incremental loads, primary key, write disposition."""

    name: Annotated[str, Field(min_length=1)]
    incremental: str | None = Field(
        default=None, description="Cursor column: a timestamp or date column, or an increasing number."
    )
    primary_key: str | list[str] | None = Field(
        default=None, description="Merge key; taken from the table's primary key constraint when omitted."
    )
    write_disposition: WriteDisposition | None = None


class SqlDatabaseOptions(_Strict):
    """Which database, which schema and which tables. Without ``tables`` every table of the schema loads."""

    conn_id: str | None = Field(default=None, description="Airflow connection of the database.")
    credentials_env: str | None = Field(default=None, description="Environment variable holding a SQLAlchemy URL.")
    schema_name: str | None = Field(default=None, alias="schema",
                                    description="Database schema; the database's default one when omitted.")
    tables: list[SqlTable] = Field(
        default_factory=list, validation_alias=AliasChoices("tables", "table_names"),
        description="Tables to load (names or {name, incremental, primary_key, write_disposition}); "
                    "all tables of the schema when empty. Dango's name for it, table_names, is accepted.",
    )
    incremental: str | None = Field(
        default=None, description="Cursor column used by every table that has it, unless the table sets its own."
    )
    include_views: bool = Field(default=False, description="Also load the views of the schema (whole-schema loads).")
    backend: Literal["pyarrow", "connectorx", "sqlalchemy"] = "pyarrow"
    chunk_size: Annotated[int, Field(ge=1, le=10_000_000)] = 50_000

    @field_validator("tables", mode="before")
    @classmethod
    def _table_names(cls, value):
        """A bare table name is a table with no settings of its own (Dango's table_names is a list of names)."""
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("conn_id", "credentials_env")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _check(self) -> SqlDatabaseOptions:
        if (self.conn_id is None) == (self.credentials_env is None):
            raise ValueError(
                "set exactly one of conn_id (an Airflow connection) or credentials_env (an environment variable "
                "holding a SQLAlchemy URL such as postgresql://user:password@host:5432/db)"
            )
        seen: set[str] = set()
        for table in self.tables:
            if table.name in seen:
                raise ValueError(f"table '{table.name}' is listed twice in tables")
            seen.add(table.name)
        return self

    def table(self, name: str) -> SqlTable:
        """The settings of table ``name`` (an empty entry when it is not listed)."""
        for table in self.tables:
            if table.name == name:
                return table
        return SqlTable(name=name)
