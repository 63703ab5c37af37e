"""The Metabase release and DuckDB driver we pin, and the DuckDB version that driver embeds.

``docker-compose.yaml`` and ``include/metabase/Dockerfile`` build Metabase from these values (a test
checks they agree), and ``core.snapshot.publish`` writes the serving copy in a storage format that
``DRIVER_DUCKDB_VERSION`` reads.

Sources (motherduckdb/metabase_duckdb_driver): a driver release is tagged with the version of
``org.duckdb/duckdb_jdbc`` it embeds (its CI refuses a release whose tag differs from the
``duckdb_jdbc`` version in ``deps.edn``), so driver 1.5.5.0 embeds DuckDB 1.5.5. The driver's own
Dockerfile pins Metabase 0.63.10 with driver 1.5.5.0 as its primary compatible pair.
"""

from __future__ import annotations

#: the Metabase release (jar from downloads.metabase.com/v<version>/metabase.jar)
METABASE_VERSION = "0.63.10"
#: the MotherDuck DuckDB driver release (GitHub release asset duckdb.metabase-driver.jar)
METABASE_DUCKDB_DRIVER_VERSION = "1.5.5.0"
#: the DuckDB library inside that driver (duckdb_jdbc 1.5.5.0)
DRIVER_DUCKDB_VERSION = "1.5.5"


def storage_version_for(duckdb_version: str) -> str:
    """The newest DuckDB storage version a DuckDB release reads: ``1.5.5`` -> ``v1.5.0``.

    DuckDB changes its storage format only in minor releases, so a reader of a minor series reads
    every storage version up to that minor's ``.0``.
    """
    major, minor = duckdb_version.split(".")[:2]
    return f"v{int(major)}.{int(minor)}.0"


#: the storage version of the serving copy: the newest one the driver's DuckDB reads
SERVING_STORAGE_VERSION = storage_version_for(DRIVER_DUCKDB_VERSION)
