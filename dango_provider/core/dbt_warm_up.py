"""One ``dbt parse`` of a small throwaway project, to fill dbt's per-process caches before a process forks.

The first parse in a Python process builds what dbt keeps for the process' lifetime: the JSON schemas it
validates project files and nodes against (one per class, ``functools.lru_cache``) and mashumaro's
serializers (compiled on first use). Measured on the 2-core machine (decision 0020): a fresh project's
full parse took 2.9 s as a process' first parse and 1.2 s as its second, whatever project came first.
The scheduler runs this once before its LocalExecutor forks, so every task process starts with them.

The project uses what a dango project's models use (a source, a model with generic tests, a seed); the
warehouse path is ``:memory:`` and ``dbt parse`` opens no connection. dbt's static parser is off for this
parse: it is Rust (dbt-extractor) and starts a pool of native threads on first use, which a fork does not
copy; a task forked after it hung in its own first parse. The tasks' parses use it as usual.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from dango_provider.core.dbt_profile import WAREHOUSE_ENV, WAREHOUSE_PATH

FILES = {
    "dbt_project.yml": 'name: dango_warm_up\nversion: "1.0"\nconfig-version: 2\nprofile: dango_warm_up\n',
    "profiles.yml": ("dango_warm_up:\n  target: dev\n  outputs:\n"
                     f"    dev: {{type: duckdb, path: \"{WAREHOUSE_PATH}\"}}\n"),
    "models/stg_raw__t.sql": "select id, name from {{ source('raw', 't') }}\n",
    "models/schema.yml": ("version: 2\nsources:\n  - name: raw\n    tables: [{name: t}]\n"
                          "models:\n  - name: stg_raw__t\n    description: one row per id\n    columns:\n"
                          "      - name: id\n        data_tests: [not_null, unique]\n"),
    "seeds/codes.csv": "code,label\n1,a\n",
}


def warm_up_dbt() -> float:
    """Parse the throwaway project in this process (dbt's imports included); return the seconds it took.
    Raises DbtRunError when dbt cannot parse it."""
    from dango_provider.core.dbt_cli import run_dbt_in_process

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dango-dbt-warm-up-") as tmp:
        root = Path(tmp)
        for name, text in FILES.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        run_dbt_in_process(["parse", "--quiet", "--no-static-parser", "--target-path", str(root / "target"),
                            "--log-path", str(root / "logs")], root, {WAREHOUSE_ENV: ":memory:"})
    return time.perf_counter() - started
