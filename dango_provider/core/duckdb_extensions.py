"""DuckDB extensions from installed packages, never from the internet.

The ``duckdb-ext-*`` packages (extra ``ducklake``) put DuckDB's signed extension binaries under
``duckdb_ext/extensions/v<duckdb version>/<platform>/``: the layout of DuckDB's own extension directory.
A connection points its ``extension_directory`` there and runs ``LOAD <name>``; ``INSTALL`` never runs
and auto-install stays off (``duckdb_config.OFFLINE``), so nothing is downloaded. See decision 0011.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from dango_provider.core.duckdb_config import OFFLINE, DuckDBConfig
from dango_provider.exceptions import DangoError

#: extension name -> the distribution that ships it
PACKAGES = {"ducklake": "duckdb-ext-ducklake", "postgres_scanner": "duckdb-ext-postgres"}


def extension_directory(*needed: str) -> Path:
    """The packaged extension directory holding every extension in ``needed`` for the running DuckDB; a
    DangoError naming the package to install when one is missing."""
    import duckdb

    spec = importlib.util.find_spec("duckdb_ext")
    roots = [Path(p) / "extensions" for p in (spec.submodule_search_locations or [])] if spec else []

    def holds(root: Path, name: str) -> bool:
        return next(root.glob(f"v{duckdb.__version__}/*/{name}.duckdb_extension"), None) is not None

    for name in needed:
        if not any(holds(root, name) for root in roots):
            raise DangoError(
                f"DuckDB extension '{name}' for DuckDB {duckdb.__version__} is not installed: install the package "
                f"{PACKAGES.get(name, 'duckdb-ext-' + name)} (pip install 'dango-provider[ducklake]'); nothing is "
                "downloaded at run time")
    found = [root for root in roots if all(holds(root, n) for n in needed)]
    if not found:
        raise DangoError(f"DuckDB extensions {', '.join(needed)} are installed in different places; install "
                         f"{', '.join(PACKAGES.get(n, 'duckdb-ext-' + n) for n in needed)} into one environment")
    return found[0]


def extension_file(name: str) -> Path:
    """The packaged binary of extension ``name`` for the running DuckDB (``LOAD '<path>'`` needs no
    extension directory); a DangoError naming the package when it is not installed."""
    import duckdb

    return next(extension_directory(name).glob(f"v{duckdb.__version__}/*/{name}.duckdb_extension"))


def packaged_config(*needed: str) -> DuckDBConfig:
    """A connection configuration that can ``LOAD`` the extensions in ``needed`` and downloads nothing."""
    return {**OFFLINE, "extension_directory": str(extension_directory(*needed))}
