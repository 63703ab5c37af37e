"""Extensions come from the installed ``duckdb-ext-*`` packages, for the running DuckDB, or not at all."""

from __future__ import annotations

import duckdb
import pytest

from dango_provider.core.duckdb_extensions import extension_file
from dango_provider.exceptions import DangoError


def test_the_packaged_binary_of_an_extension_for_the_running_duckdb():
    path = extension_file("ducklake")
    assert path.is_file() and path.name == "ducklake.duckdb_extension"
    assert f"v{duckdb.__version__}" in path.parts


def test_an_extension_no_package_ships_is_refused_naming_the_package():
    with pytest.raises(DangoError, match="install the package duckdb-ext-spatial .* nothing is downloaded"):
        extension_file("spatial")
