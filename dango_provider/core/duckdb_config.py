"""DuckDB connection settings shared by every connection the provider opens."""

from __future__ import annotations

#: a DuckDB connection configuration (duckdb.connect's ``config``)
DuckDBConfig = dict[str, str | bool | int | float | list[str]]

#: never download or auto-load an extension: the provider works offline
OFFLINE: DuckDBConfig = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
