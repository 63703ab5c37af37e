"""SIGKILL the ingest at several points, then retry: exact row counts, no duplicate keys, an intact
warehouse, and no stale lock blocking the next writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import BIN, run

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

ROWS = 600_000
SYNC = """
import sys
from dango_provider.config.loader import load_project
from dango_provider.hooks.duckdb import DuckDBHook
from dango_provider.sources.runner import extract_source, load_source
project = load_project(sys.argv[1])
source = project.source("orders")
hook = DuckDBHook(project.warehouse_path, lock_timeout=30)
step = sys.argv[2]
if step in ("extract", "both"):
    extracted = extract_source(project, source, hook)
    (project.root / "extracted.json").write_text(__import__("json").dumps(extracted.__dict__))
if step in ("load", "both"):
    extracted = __import__("json").loads((project.root / "extracted.json").read_text())
    load_source(project, source, hook, owner="killable load", extracted=extracted)
print("done", flush=True)
"""


def _project(root: Path) -> Path:
    run([str(BIN / "dango"), "init", str(root), "--no-pool"], {})
    (root / "sources.yml").write_text(
        'version: "1.0"\nsources:\n  - name: orders\n    type: csv\n    primary_key: order_id\n'
        "    csv: {directory: data/orders}\n")
    (root / "data" / "orders").mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"COPY (SELECT range AS order_id, range * 1.5 AS amount, 'x' || range AS note FROM range({ROWS})) "
                f"TO '{root / 'data' / 'orders' / 'orders_1.csv'}' (HEADER)")
    con.close()
    return root


def _start(root: Path, step: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SYNC, str(root), step], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _check(root: Path):
    con = duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True)
    try:
        total, distinct = con.sql("select count(*), count(distinct order_id) from raw_orders.orders").fetchone()
        tables = con.sql("select count(*) from duckdb_tables() where schema_name = 'raw_orders'").fetchone()[0]
    finally:
        con.close()
    return total, distinct, tables


def _finish(root: Path, step: str = "both"):
    proc = _start(root, step)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]


def _kill(proc: subprocess.Popen):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_kill_during_extract_then_retry(tmp_path):
    root = _project(tmp_path / "p")
    proc = _start(root, "both")
    pipelines = root / ".dango" / "state" / "pipelines"
    assert _wait_for(lambda: pipelines.exists() and any(pipelines.rglob("*.parquet")) or proc.poll() is not None)
    _kill(proc)
    _finish(root)
    assert _check(root)[:2] == (ROWS, ROWS)


def test_kill_during_the_warehouse_write_then_retry(tmp_path):
    root = _project(tmp_path / "p")
    _finish(root, "extract")
    proc = _start(root, "load")
    lock = root / "data" / "warehouse.duckdb.lock"
    assert _wait_for(lambda: lock.exists() and "killable load" in lock.read_text())
    time.sleep(0.3)  # inside pipeline.load()
    _kill(proc)
    # the flock died with its process: the next writer gets the lock at once and loads the package again
    _finish(root, "load")
    total, distinct, _ = _check(root)
    assert (total, distinct) == (ROWS, ROWS)
    history = duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True)
    assert history.sql("select count(*) from dango_meta.load_history").fetchone()[0] >= 1
    history.close()


def test_kill_after_the_load_before_fingerprints_commit_is_idempotent(tmp_path):
    root = _project(tmp_path / "p")
    _finish(root, "both")
    # simulate a kill between the warehouse commit and the fingerprint commit: forget the fingerprints
    state = root / ".dango" / "state" / "sources" / "orders"
    (state / "fingerprints.json").unlink()
    _finish(root, "both")  # the same file is read and merged again
    assert _check(root)[:2] == (ROWS, ROWS)
    assert json.loads((state / "fingerprints.json").read_text())


def test_kill_during_staging_generation_then_retry(tmp_path, airflow_home):
    """Killed after the staging files changed but before the manifest refresh finished: the retry
    refreshes the manifest (the files are current, so only their age says the manifest is stale)."""
    from tests.conftest import airflow_env

    root = _project(tmp_path / "p")
    env = airflow_env(airflow_home, root)
    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__orders"], env)
    (root / "data" / "orders" / "orders_2.csv").write_text("order_id,amount,note,channel\n1,2.5,y,web\n")
    _finish(root, "both")  # the raw table now has a channel column
    target = root / "dbt" / "target"
    staging = [str(BIN / "airflow"), "tasks", "test", "dango_ingest__orders", "generate_staging"]
    proc = subprocess.Popen(staging, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    assert _wait_for(lambda: any(target.glob(".parse-*")) or proc.poll() is not None, timeout=300)
    assert proc.poll() is None, "generate_staging ended before the manifest refresh could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)  # the task and its dbt parse subprocess
    proc.wait(timeout=30)
    model = root / "dbt" / "models" / "staging" / "orders" / "stg_orders__orders.sql"
    assert "channel" in model.read_text()
    stale = json.loads((target / "manifest.json").read_text())
    assert "channel" not in next(n for k, n in stale["nodes"].items() if k.endswith(".stg_orders__orders"))["raw_code"]

    run(staging, env)

    manifest = json.loads((target / "manifest.json").read_text())
    node = next(n for k, n in manifest["nodes"].items() if k.endswith(".stg_orders__orders"))
    assert "channel" in node["raw_code"]
    assert not list(target.glob(".parse-*")), "the killed parse's temp directory was not cleaned up"
    assert _check(root)[:2] == (ROWS, ROWS)
