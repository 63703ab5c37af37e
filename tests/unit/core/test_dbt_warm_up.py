"""The scheduler's throwaway dbt parse (decision 0020), and the Jinja parses it leaves for its forks
(decision 0023)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_the_warm_up_parses_and_leaves_the_process_as_it_was(tmp_path):
    """In a clean interpreter: dbt's schema cache is filled, and no thread, directory change, variable or
    file is left behind (the scheduler forks its task processes afterwards). Threads are counted as the
    kernel sees them: dbt's static parser (Rust) starts a pool of native threads that Python's
    ``threading`` does not list, and a task forked after it hung in its first parse."""
    code = ("import json, os, threading\n"
            "from dbt_common.dataclass_schema import dbtClassMixin\n"
            "import dango_provider.core.dbt_cli  # sets the telemetry-off variables at import (offline.py)\n"
            "from dango_provider.core.dbt_warm_up import warm_up_dbt\n"
            "from dango_provider.plugins.task_imports import import_task_modules\n"
            "import_task_modules()  # as the scheduler does first (DuckDB and pyarrow start their own threads)\n"
            "def threads(): return len(os.listdir('/proc/self/task'))\n"
            "cwd, env, before = os.getcwd(), dict(os.environ), threads()\n"
            "warm_up_dbt()\n"
            "from dbt.clients import jinja_static\n"
            "print(json.dumps({'schemas': dbtClassMixin.__dict__['json_schema'].__func__.cache_info().currsize,\n"
            "                  'macro_parses': len(jinja_static._TESTING_MACRO_CACHE),\n"
            "                  'threads': threads() - before, 'python_threads': threading.active_count(), 'cwd': os.getcwd() == cwd,\n"
            "                  'env': dict(os.environ) == env}))\n")
    env = {k: v for k, v in os.environ.items() if k != "DANGO_WAREHOUSE_PATH"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**env, "TMPDIR": str(tmp_path)}, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    # the project files and nodes a dango project's parse validates, models, tests, sources and seeds among them
    assert seen["schemas"] >= 10, seen
    assert seen["macro_parses"] >= 400, seen  # dbt's and dbt-duckdb's own macros, for the forks to reuse
    assert seen == {**seen, "threads": 0, "python_threads": 1, "cwd": True, "env": True}, seen
    assert list(tmp_path.iterdir()) == []


PROJECT = {
    "dbt_project.yml": ('name: shop\nversion: "1.0"\nconfig-version: 2\nprofile: shop\n'
                        "snapshot-paths: [snapshots]\n"),
    "profiles.yml": "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: \":memory:\"}\n",
    "macros/cents.sql": "{% macro cents(column) %}({{ column }} * 100)::bigint{% endmacro %}\n",
    "models/stg_orders.sql": "select id, {{ cents('amount') }} as amount_cents from {{ source('raw', 'orders') }}\n",
    "models/daily.sql": ("{{ config(materialized='table') }}\n"
                         "select count(*) as n, sum(amount_cents) as total from {{ ref('stg_orders') }}\n"),
    "models/schema.yml": ("version: 2\nsources:\n  - name: raw\n    tables: [{name: orders}]\n"
                          "models:\n  - name: stg_orders\n    columns:\n"
                          "      - name: id\n        data_tests: [not_null, unique]\n"
                          "      - name: amount_cents\n        data_tests:\n"
                          "          - accepted_values: {arguments: {values: [100, 200]}}\n"),
    "seeds/codes.csv": "code,label\n1,a\n",
    "snapshots/orders_snapshot.sql": ("{% snapshot orders_snapshot %}\n"
                                      "{{ config(unique_key='id', strategy='check', check_cols='all') }}\n"
                                      "select * from {{ ref('stg_orders') }}\n{% endsnapshot %}\n"),
}


def _comparable(manifest_path) -> dict:
    """The manifest without what differs between any two parses (times, ids, paths of the copy)."""
    manifest = json.loads(manifest_path.read_text())
    manifest.pop("metadata")
    root = str(manifest_path.parent.parent)

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("created_at", "root_path")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value.replace(root, "<root>") if isinstance(value, str) else value

    return strip(manifest)


def test_a_parse_after_the_warm_up_gives_the_manifest_an_uncached_parse_gives(tmp_path):
    """A project's parse in a process the warm-up has filled the Jinja caches of (as a forked task's is)
    finds the same nodes, macros, tests and dependencies as dbt's own command in a fresh process."""
    for copy in ("cached", "uncached"):
        for name, text in PROJECT.items():
            (tmp_path / copy / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / copy / name).write_text(text)
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from dango_provider.core.dbt_cli import run_dbt_in_process\n"
            "from dango_provider.core.dbt_warm_up import warm_up_dbt\n"
            "from dbt.clients import jinja_static\n"
            "warm_up_dbt()\n"
            "filled = len(jinja_static._TESTING_MACRO_CACHE)\n"
            "run_dbt_in_process(['parse', '--quiet'], Path(sys.argv[1]), {'DANGO_WAREHOUSE_PATH': ':memory:'})\n"
            "print(filled, len(jinja_static._TESTING_MACRO_CACHE))\n")
    env = {k: v for k, v in os.environ.items() if k != "DANGO_WAREHOUSE_PATH"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cached")], capture_output=True, text=True,
                         timeout=300, env={**env, "TMPDIR": str(tmp_path)})
    assert out.returncode == 0, out.stdout + out.stderr
    filled, after = map(int, out.stdout.split()[-2:])
    assert after > filled  # the project's own texts were parsed (and kept) on top of the warm-up's
    dbt = Path(sys.executable).with_name("dbt")
    derived = tmp_path / "cached" / "target" / "dango"  # the profile as the tasks run it (dbt_profile.profiles_dir)
    plain = subprocess.run([str(dbt), "parse", "--quiet", "--profiles-dir", str(derived if derived.is_dir() else ".")],
                           capture_output=True, text=True, timeout=300, env={**env, "DANGO_WAREHOUSE_PATH": ":memory:"},
                           cwd=tmp_path / "uncached")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    cached = _comparable(tmp_path / "cached" / "target" / "manifest.json")
    uncached = _comparable(tmp_path / "uncached" / "target" / "manifest.json")
    assert sorted(cached["nodes"]) == sorted(uncached["nodes"])
    assert len(cached["nodes"]) == 7  # 2 models, 3 tests, a seed, a snapshot
    assert cached == uncached


def test_a_changed_text_is_parsed_again_in_the_same_process(tmp_path):
    """The caches are keyed by the text: a macro changed between two parses of one process (as
    ``generate_staging`` rewrites files before ``dbt_build`` parses under ``airflow dags test``) is seen."""
    for name, text in PROJECT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    code = ("import json, sys\n"
            "from pathlib import Path\n"
            "from dango_provider.core.dbt_cli import run_dbt_in_process\n"
            "root, env = Path(sys.argv[1]), {'DANGO_WAREHOUSE_PATH': ':memory:'}\n"
            "def macro():\n"
            "    run_dbt_in_process(['parse', '--quiet', '--no-partial-parse'], root, env)\n"
            "    return json.loads((root / 'target' / 'manifest.json').read_text())['macros']['macro.shop.cents']\n"
            "first = macro()['macro_sql']\n"
            "(root / 'macros' / 'cents.sql').write_text(\n"
            "    '{% macro cents(column) %}round({{ column }} * 100)::bigint{% endmacro %}\\n')\n"
            "print(json.dumps([first, macro()['macro_sql']]))\n")
    env = {k: v for k, v in os.environ.items() if k != "DANGO_WAREHOUSE_PATH"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=300,
                         env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    first, second = json.loads(out.stdout.strip().splitlines()[-1])
    assert "({{ column }} * 100)" in first and "round(" not in first
    assert "round({{ column }} * 100)" in second
