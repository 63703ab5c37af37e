"""``dango-dbt``: dbt behind the warehouse file lock.

Cosmos runs this instead of ``dbt`` (its ``dbt_executable_path``), so every dbt command that opens the
warehouse holds the same lock as the dlt loads, also under ``airflow dags test`` where pools are
ignored. The lock is released when dbt exits, whatever the exit code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dango_provider.core.lock import warehouse_lock
from dango_provider.core.naming import Naming
from dango_provider.settings import DEFAULT_LOCK_TIMEOUT

# commands that never open the warehouse
_NO_WAREHOUSE = {"parse", "ls", "list", "deps", "clean", "debug", "--version", "--help"}


def main() -> None:
    import dango_provider.offline  # noqa: F401 - no usage telemetry from dbt
    from dbt.cli.main import cli

    warehouse = os.environ.get("DANGO_WAREHOUSE_PATH")
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
    if not warehouse or command in _NO_WAREHOUSE:
        sys.exit(cli())
    timeout = float(os.environ.get("DANGO_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT))
    owner = os.environ.get("DANGO_LOCK_OWNER") or f"dbt {command}"
    with warehouse_lock(Naming.lock_path(Path(warehouse)), timeout=timeout, owner=owner):
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
