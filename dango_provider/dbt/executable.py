"""``dango-dbt``: dbt behind the warehouse's write lock (the file lock of a DuckDB warehouse).

Cosmos runs this instead of ``dbt`` (its ``dbt_executable_path``), so every dbt command that opens the
warehouse holds the same lock as the dlt loads, also under ``airflow dags test`` where pools are
ignored. The lock is released when dbt exits, whatever the exit code.
"""

from __future__ import annotations

import os
import sys

from dango_provider.hooks.warehouse import warehouse_from_dbt_env

# commands that never open the warehouse
_NO_WAREHOUSE = {"parse", "ls", "list", "deps", "clean", "debug", "--version", "--help"}


def main() -> None:
    import dango_provider.offline  # noqa: F401 - no usage telemetry from dbt
    from dbt.cli.main import cli

    warehouse = warehouse_from_dbt_env(os.environ)
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
    if warehouse is None or command in _NO_WAREHOUSE:
        sys.exit(cli())
    owner = os.environ.get("DANGO_LOCK_OWNER") or f"dbt {command}"
    with warehouse.write_lock(owner):
        os.environ.update(warehouse.dbt_secret_env())
        code = _run(cli)
    sys.exit(code)


def _run(cli) -> int:
    try:
        cli(standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    main()
