"""DuckDB connection settings shared by every connection the provider opens."""

from __future__ import annotations

#: never download or auto-load an extension: the provider works offline
OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
