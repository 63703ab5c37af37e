"""``dango status`` through the installed console script: state files, the serving copy, a busy warehouse."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from dango_provider.core.governance_state import block_for_drift, mark_ready
from dango_provider.core.load_history import LoadRecord, record_loads
from dango_provider.core.naming import Naming
from tests.unit.helpers import run_dango

SOURCES = textwrap.dedent("""\
    sources:
      - name: orders
        type: csv
        primary_key: order_id
        csv: {directory: data/orders}
      - name: refunds
        type: csv
        csv: {directory: data/refunds}
      - name: archive
        type: csv
        enabled: false
        csv: {directory: data/archive}
    """)

T0 = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)

# Holds the live warehouse open read-write (DuckDB's own file lock) and the warehouse write lock (flock).
HOLDER = textwrap.dedent("""\
    import fcntl, os, sys
    import duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS busy (a INTEGER)")
    fd = os.open(sys.argv[2], os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("holding", flush=True)
    sys.stdin.read()
    """)


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "sources.yml").write_text(SOURCES)
    return root


def state_dir(root: Path, source: str) -> Path:
    return Naming.state_dir(root) / "sources" / source


def write_serving_copy(root: Path) -> Path:
    path = root / "data" / "serving" / "warehouse.duckdb"
    path.parent.mkdir(parents=True)
    con = duckdb.connect(str(path))
    try:
        record_loads(con, [
            LoadRecord("orders", "orders", 100, "1", 1, T0 - timedelta(days=1), T0 - timedelta(days=1, seconds=-5)),
            LoadRecord("orders", "orders", 120, "2", 2, T0, T0 + timedelta(seconds=5)),
            LoadRecord("orders", "order_notes", 7, "2", 2, T0, T0 + timedelta(seconds=5)),
        ])
        con.execute("CREATE SCHEMA raw_orders")
        con.execute("CREATE TABLE raw_orders.orders AS SELECT range AS order_id FROM range(120)")
        con.execute("CREATE TABLE raw_orders._dlt_loads (load_id VARCHAR)")
    finally:
        con.close()
    return path


def status_json(root: Path) -> dict:
    proc = run_dango("status", "--project", str(root), "--json", timeout=30)
    assert (proc.returncode, proc.stderr) == (0, "")
    return json.loads(proc.stdout)


def by_name(status: dict) -> dict:
    return {s["name"]: {k: v for k, v in s.items() if k != "name"} for s in status["sources"]}


def test_status_of_a_never_loaded_project(project):
    status = status_json(project)

    serving = project / "data" / "serving" / "warehouse.duckdb"
    assert status["serving_copy"] == {"path": str(serving), "exists": False, "published_at": None, "error": None}
    assert status["tables"] == []
    assert by_name(status) == {
        "orders": {"type": "csv", "enabled": True, "state": "never loaded", "drift_changes": 0, "last_load": None},
        "refunds": {"type": "csv", "enabled": True, "state": "never loaded", "drift_changes": 0, "last_load": None},
        "archive": {"type": "csv", "enabled": False, "state": "never loaded", "drift_changes": 0, "last_load": None},
    }
    # it opened nothing that a writer uses: no warehouse file, no lock file
    assert not (project / "data").exists()


def test_status_from_state_files(project):
    mark_ready(state_dir(project, "orders"), {"models": [], "load_ids": ["9"], "loaded_at": T0.isoformat()})
    block_for_drift(state_dir(project, "refunds"),
                    [{"table": "refunds", "column": "amount", "kind": "type_changed"},
                     {"table": "refunds", "column": "note", "kind": "dropped"}], {"refunds": {}})

    status = status_json(project)

    sources = by_name(status)
    assert sources["orders"]["state"] == "ok"
    assert sources["orders"]["last_load"] == {"at": "2024-05-01T06:00:00+00:00", "rows": None, "from": "state"}
    assert (sources["refunds"]["state"], sources["refunds"]["drift_changes"]) == (
        "blocked by schema drift (2 changes)", 2)
    assert sources["archive"]["state"] == "never loaded"


def test_status_from_the_serving_copy(project):
    write_serving_copy(project)
    # refunds loaded after the copy was published: its time comes from state, rows unknown
    mark_ready(state_dir(project, "refunds"), {"loaded_at": (T0 + timedelta(hours=1)).isoformat()})

    status = status_json(project)
    text = run_dango("status", "--project", str(project), timeout=30)

    assert status["serving_copy"]["exists"] is True and status["serving_copy"]["error"] is None
    sources = by_name(status)
    assert sources["orders"]["last_load"] == {"at": "2024-05-01T06:00:05+00:00", "rows": 127, "from": "serving copy"}
    assert sources["refunds"]["last_load"] == {"at": "2024-05-01T07:00:00+00:00", "rows": None, "from": "state"}
    assert sources["archive"]["last_load"] is None
    assert status["tables"] == [{"schema": "dango_meta", "table": "load_history", "rows": 3},
                                {"schema": "raw_orders", "table": "orders", "rows": 120}]
    assert text.returncode == 0
    assert text.stdout.splitlines()[2:] == [
        "",
        "source   enabled  last load                  rows  state",
        "orders   yes      2024-05-01T06:00:05+00:00  127   ok",
        "refunds  yes      2024-05-01T07:00:00+00:00  -     ok",
        "archive  no       -                          -     never loaded",
        "",
        "table (serving copy)     rows",
        "dango_meta.load_history  3",
        "raw_orders.orders        120",
        "",
        "transform: no dbt result recorded yet",
    ]


def test_status_while_another_process_holds_the_live_warehouse(project):
    write_serving_copy(project)
    live = project / "data" / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(live), str(Naming.lock_path(live))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(duckdb.IOException, match="lock"):  # the live file is really unavailable
            duckdb.connect(str(live), read_only=True)

        status = status_json(project)

        assert by_name(status)["orders"]["last_load"]["rows"] == 127
        assert [t["table"] for t in status["tables"]] == ["load_history", "orders"]
        assert holder.poll() is None
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_status_watch_redraws_what_changes_until_interrupted(project):
    import signal
    import time

    from tests.unit.helpers import DANGO

    proc = subprocess.Popen([str(DANGO), "status", "--project", str(project), "--watch", "0.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        mark_ready(state_dir(project, "orders"), {"models": [], "load_ids": ["9"], "loaded_at": T0.isoformat()})
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, err) == (0, "")
    frames = out.split("\x1b[H\x1b[2J")[1:]
    assert len(frames) >= 3
    assert "Ctrl-C stops" in frames[0] and "never loaded" in frames[0].split("refunds")[0]
    assert "2024-05-01T06:00:00+00:00" in frames[-1], "a later frame shows the load recorded meanwhile"
