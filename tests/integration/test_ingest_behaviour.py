"""Ingest behaviour on real files, a real dlt pipeline and a real DuckDB warehouse."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import IngestError, SourceDataError, WarehouseLockTimeout
from dango_provider.hooks.duckdb import DuckDBHook
from dango_provider.sources.runner import NothingToLoad, extract_source, load_source
from tests.conftest import BIN, airflow_env, run

SOURCES = """\
version: "1.0"
defaults: {{retries: 0}}
sources:
  - name: orders
    type: csv
    primary_key: order_id
    csv: {{directory: data/orders}}
  - name: events
    type: csv
    write_disposition: {events_disposition}
    csv: {{directory: data/events}}
"""


def make_project(root: Path, events_disposition: str = "append") -> Path:
    run([str(BIN / "dango"), "init", str(root), "--no-pool"], {})
    (root / "sources.yml").write_text(SOURCES.format(events_disposition=events_disposition))
    (root / "data" / "orders").mkdir(parents=True)
    (root / "data" / "events").mkdir(parents=True)
    (root / "data" / "orders" / "orders_1.csv").write_text("order_id,amount\n1,10.0\n2,20.0\n3,30.0\n")
    (root / "data" / "events" / "events_1.csv").write_text("event,n\na,1\nb,2\n")
    return root


def sync(project_dir: Path, name: str, lock_timeout: float = 30, full_refresh: bool = False):
    project = load_project(project_dir)
    source = project.source(name)
    warehouse = DuckDBHook(project.warehouse_path, lock_timeout=lock_timeout)
    extracted = extract_source(project, source, warehouse, full_refresh=full_refresh)
    return load_source(project, source, warehouse, owner=f"test {name}", extracted=extracted.__dict__)


def rows(project_dir: Path, sql: str):
    con = duckdb.connect(str(project_dir / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def test_unchanged_files_are_not_read_again(tmp_path):
    project = make_project(tmp_path)
    assert sync(project, "orders").row_counts == {"orders": 3}
    with pytest.raises(NothingToLoad, match="1 file\\(s\\), none new or changed"):
        sync(project, "orders")


def test_delta_file_upserts_on_the_primary_key(tmp_path):
    project = make_project(tmp_path)
    sync(project, "orders")
    (project / "data" / "orders" / "orders_2.csv").write_text("order_id,amount\n2,25.0\n4,40.0\n")
    result = sync(project, "orders")
    assert result.row_counts == {"orders": 2}
    assert rows(project, "select order_id, amount from raw_orders.orders order by 1") == [
        (1, 10.0), (2, 25.0), (3, 30.0), (4, 40.0)]


def test_ragged_file_fails_naming_file_and_line_and_keeps_loaded_data(tmp_path):
    project = make_project(tmp_path)
    sync(project, "orders")
    bad = project / "data" / "orders" / "orders_2.csv"
    bad.write_text("order_id,amount\n2,25.0\n5,50.0,extra\n")
    with pytest.raises(SourceDataError) as info:
        sync(project, "orders")
    assert f"{bad}:3: ragged row: expected 2 fields like the header, found 3" in str(info.value)
    assert rows(project, "select order_id, amount from raw_orders.orders order by 1") == [(1, 10.0), (2, 20.0), (3, 30.0)]
    # once the file is fixed it loads; nothing of the failed attempt was kept
    bad.write_text("order_id,amount\n2,25.0\n5,50.0\n")
    assert sync(project, "orders").row_counts == {"orders": 2}
    assert rows(project, "select count(*), sum(amount) from raw_orders.orders") == [(4, 115.0)]


def test_changed_file_replaces_its_own_rows_under_append(tmp_path):
    project = make_project(tmp_path)
    sync(project, "events")
    (project / "data" / "events" / "events_2.csv").write_text("event,n\nc,3\n")
    sync(project, "events")
    (project / "data" / "events" / "events_1.csv").write_text("event,n\na,1\nb,2\nb2,22\n")
    sync(project, "events")
    assert rows(project, "select event, n, _dango_file from raw_events.events order by 1") == [
        ("a", 1, "data/events/events_1.csv"), ("b", 2, "data/events/events_1.csv"),
        ("b2", 22, "data/events/events_1.csv"), ("c", 3, "data/events/events_2.csv")]


def test_full_refresh_with_replace_reloads_everything(tmp_path):
    project = make_project(tmp_path, events_disposition="replace")
    sync(project, "events")
    (project / "data" / "events" / "events_1.csv").write_text("event,n\nz,9\n")
    sync(project, "events", full_refresh=True)
    assert rows(project, "select event, n from raw_events.events") == [("z", 9)]


def test_merge_keeps_one_row_per_key_and_rejects_rows_without_a_key(tmp_path):
    project = make_project(tmp_path)
    orders = project / "data" / "orders"
    # one load with a key in two files (the file that sorts last wins), then one with unique keys
    (orders / "orders_2.csv").write_text("order_id,amount\n2,25.0\n")
    sync(project, "orders")
    (orders / "orders_3.csv").write_text("order_id,amount\n3,35.0\n4,40.0\n")
    sync(project, "orders")
    assert rows(project, "select order_id, amount from raw_orders.orders order by 1") == [
        (1, 10.0), (2, 25.0), (3, 35.0), (4, 40.0)]

    (orders / "orders_4.csv").write_text("order_id,amount\n5,50.0\n,60.0\n")
    with pytest.raises(SourceDataError) as info:
        sync(project, "orders")
    assert str(info.value) == (f"source 'orders': {orders / 'orders_4.csv'}:3: 1 row(s) without a value in the "
                               "primary key (order_id); nothing from this load was written")
    assert rows(project, "select count(*) from raw_orders.orders") == [(4,)]

    # duplicate keys again after a load with unique ones: deduplicated again
    (orders / "orders_4.csv").write_text("order_id,amount\n4,41.0\n")
    (orders / "orders_5.csv").write_text("order_id,amount\n4,42.0\n")
    sync(project, "orders")
    assert rows(project, "select order_id, amount from raw_orders.orders where order_id = 4") == [(4, 42.0)]


def test_lost_provider_state_never_appends_a_file_twice(tmp_path):
    project = make_project(tmp_path)
    sync(project, "events")
    shutil.rmtree(project / ".dango" / "state")  # the provider's state is gone, the warehouse is not

    with pytest.raises(IngestError) as info:
        sync(project, "events")
    assert "raw_events.events already holds rows of data/events/events_1.csv" in str(info.value)
    assert "full_refresh" in str(info.value)
    assert rows(project, "select count(*) from raw_events.events") == [(2,)]

    sync(project, "events", full_refresh=True)  # replaces the rows of each file
    assert rows(project, "select event, n from raw_events.events order by event") == [("a", 1), ("b", 2)]


def test_full_refresh_reads_every_file_again_without_duplicating_rows(tmp_path):
    project = make_project(tmp_path)
    for name in ("events", "orders"):
        sync(project, name)
        assert sync(project, name, full_refresh=True).row_counts
    assert rows(project, "select event, n from raw_events.events order by event") == [("a", 1), ("b", 2)]
    assert rows(project, "select order_id from raw_orders.orders order by 1") == [(1,), (2,), (3,)]

    # a full refresh that fails keeps what was committed: the next plain sync has nothing to read
    bad = project / "data" / "events" / "events_2.csv"
    bad.write_text("event,n\nc,3,extra\n")
    with pytest.raises(SourceDataError):
        sync(project, "events", full_refresh=True)
    bad.unlink()
    with pytest.raises(NothingToLoad):
        sync(project, "events")
    assert rows(project, "select count(*) from raw_events.events") == [(2,)]


HOLD_LOCK = """
import sys, time
from pathlib import Path
from dango_provider.core.lock import warehouse_lock
with warehouse_lock(Path(sys.argv[1]), timeout=5, owner="the other writer"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_lock(project: Path, seconds: float) -> subprocess.Popen:
    lock = project / "data" / "warehouse.duckdb.lock"
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_waits_for_the_lock_then_loads(tmp_path):
    project = make_project(tmp_path)
    holder = _hold_lock(project, 3)
    started = time.monotonic()
    result = sync(project, "orders", lock_timeout=30)
    holder.wait(timeout=30)
    assert result.lock_wait_seconds >= 1.5
    assert time.monotonic() - started >= 2
    assert rows(project, "select count(*) from raw_orders.orders") == [(3,)]


def test_second_writer_times_out_naming_the_holder(tmp_path):
    project = make_project(tmp_path)
    holder = _hold_lock(project, 10)
    try:
        with pytest.raises(WarehouseLockTimeout) as info:
            sync(project, "orders", lock_timeout=1)
    finally:
        holder.kill()
        holder.wait()
    assert "could not lock the warehouse within 1s" in str(info.value)
    assert f"the other writer (pid {holder.pid} on" in str(info.value)
    # the extracted package is still pending; the next load takes it once the lock is free
    project_obj = load_project(project)
    source = project_obj.source("orders")
    load_source(project_obj, source, DuckDBHook(project_obj.warehouse_path, lock_timeout=5), owner="retry",
                extracted={"row_counts": {"orders": 3}})
    assert rows(project, "select count(*) from raw_orders.orders") == [(3,)]


@pytest.mark.slow
def test_ragged_file_fails_the_airflow_task_with_the_message(tmp_path, airflow_home):
    project = make_project(tmp_path)
    (project / "data" / "orders" / "orders_1.csv").write_text("order_id,amount\n1,10.0\n2\n")
    proc = run([str(BIN / "airflow"), "dags", "test", "dango_ingest__orders"], airflow_env(airflow_home, project),
               check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{project}/data/orders/orders_1.csv:3: ragged row: expected 2 fields like the header, found 1" in log
    assert not (project / "data" / "warehouse.duckdb").exists() or rows(
        project, "select count(*) from information_schema.tables where table_schema = 'raw_orders'") == [(0,)]


def test_filesystem_source_reads_a_local_glob_recursively(tmp_path):
    project = make_project(tmp_path)
    (project / "sources.yml").write_text(
        "sources:\n"
        "  - name: logs\n"
        "    type: filesystem\n"
        "    primary_key: id\n"
        "    filesystem: {bucket_url: data/logs, file_glob: '**/*.jsonl'}\n"
    )
    (project / "data" / "logs" / "2026" / "11").mkdir(parents=True)
    (project / "data" / "logs" / "top.jsonl").write_text('{"id": 1, "msg": "a"}\n')
    (project / "data" / "logs" / "2026" / "11" / "day.jsonl").write_text('{"id": 2, "msg": "b"}\n{"id": 1, "msg": "c"}\n')
    (project / "data" / "logs" / "ignored.csv").write_text("id,msg\n9,z\n")

    assert sync(project, "logs").row_counts == {"logs": 2}  # one row of key 1 dropped as a duplicate within the load
    assert rows(project, "SELECT id, msg FROM raw_logs.logs ORDER BY id") == [(1, "a"), (2, "b")]  # the file that sorts last wins
    with pytest.raises(NothingToLoad):
        sync(project, "logs")


def test_files_extracted_on_other_workers_reach_the_load_and_the_shared_schema(tmp_path):
    """Extracts in two workers' own working directories (one on another file system): each load takes its
    run's packages and schema from the stash, the shared pipeline gets the schema (what staging reads),
    and each file is loaded once."""
    from dango_provider.sources.pipeline import pipeline_for

    root = make_project(tmp_path / "project")
    project = load_project(root)
    source = project.source("events")
    hook = DuckDBHook(project.warehouse_path, lock_timeout=30)
    worker_a, worker_b = Path(tempfile.mkdtemp(dir="/dev/shm")), tmp_path / "worker_b"
    try:
        first = extract_source(project, source, hook, run_id="r1", work_dir=worker_a)
        load_source(project, source, hook, owner="test", extracted=first.__dict__, run_id="r1")
        (root / "data" / "events" / "events_2.csv").write_text("event,n,channel\nc,3,web\n")
        second = extract_source(project, source, hook, run_id="r2", work_dir=worker_b)
        assert "channel" not in pipeline_for(project, source).default_schema.get_table("events")["columns"]
        load_source(project, source, hook, owner="test", extracted=second.__dict__, run_id="r2")
        assert "channel" in pipeline_for(project, source).default_schema.get_table("events")["columns"]
        assert rows(root, "select event, n, channel from raw_events.events order by event") == [
            ("a", 1, None), ("b", 2, None), ("c", 3, "web")]
        with pytest.raises(NothingToLoad):
            extract_source(project, source, hook, run_id="r3", work_dir=worker_a)
        assert not list(worker_a.glob("dango_events/load/normalized/*")), "packages left on worker a"
    finally:
        shutil.rmtree(worker_a, ignore_errors=True)


def test_an_older_runs_schema_never_replaces_a_newer_one(tmp_path):
    from dango_provider.sources.run_stash import RunStash

    shared = tmp_path / "shared"
    (shared / "schemas").mkdir(parents=True)
    (shared / "schemas" / "s.schema.json").write_text('{"version": 5}')
    for run_id, version in (("older", 4), ("newer", 6)):
        (tmp_path / run_id / "schemas").mkdir(parents=True)
        (tmp_path / run_id / "schemas" / "s.schema.json").write_text(f'{{"version": {version}}}')
        RunStash(tmp_path / "state", run_id).park(tmp_path / run_id, None, None, set())
    RunStash(tmp_path / "state", "older").install_schemas(shared)
    assert (shared / "schemas" / "s.schema.json").read_text() == '{"version": 5}'
    RunStash(tmp_path / "state", "newer").install_schemas(shared)
    assert (shared / "schemas" / "s.schema.json").read_text() == '{"version": 6}'


KILL_AFTER_COMMITS = """
import os, sys
from dlt.common.storages.load_package import PackageStorage
from dango_provider.config.loader import load_project
from dango_provider.hooks.duckdb import DuckDBHook
from dango_provider.sources.runner import extract_source, load_source

commits = []
real = PackageStorage.save_pending_transition

def committed_then_die(self, load_id, file_name, *args, **kwargs):
    if not file_name.startswith("_dlt") and len(commits) >= int(sys.argv[3]):
        os._exit(9)  # the job's rows are committed in the warehouse; dlt has not recorded it done
    commits.append(file_name)
    return real(self, load_id, file_name, *args, **kwargs)

PackageStorage.save_pending_transition = committed_then_die
project = load_project(sys.argv[1])
source = project.source(sys.argv[2])
hook = DuckDBHook(project.warehouse_path, lock_timeout=30)
extracted = extract_source(project, source, hook, run_id="r1")
load_source(project, source, hook, owner="killed", extracted=extracted.__dict__, run_id="r1")
"""


@pytest.mark.parametrize(("name", "commits_before_death"), [("orders", 0), ("orders", 1), ("events", 0)])
def test_a_load_killed_after_its_jobs_committed_is_resumed_without_duplicates(tmp_path, name, commits_before_death):
    """The worker dies between a job's commit and dlt marking it done (orders: merge through dlt's staging
    dataset, killed after the staging copy or after the merge; events: plain append): the retry of the
    same run loads each row once, and the next run still adds to it."""
    root = make_project(tmp_path / "project")
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_COMMITS, str(root), name, str(commits_before_death)],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr[-3000:]
    project = load_project(root)
    source = project.source(name)
    hook = DuckDBHook(project.warehouse_path, lock_timeout=30)
    load_source(project, source, hook, owner="retry", extracted=None, run_id="r1")
    table = {"orders": "raw_orders.orders", "events": "raw_events.events"}[name]
    expected = {"orders": [(1, 10.0), (2, 20.0), (3, 30.0)], "events": [("a", 1), ("b", 2)]}[name]
    columns = {"orders": "order_id, amount", "events": "event, n"}[name]
    assert rows(root, f"select {columns} from {table} order by 1") == expected
    assert rows(root, f"select count(*) from raw_{name}._dlt_loads") == [(1,)]
    data = root / "data" / name / f"{name}_2.csv"
    data.write_text({"orders": "order_id,amount\n4,40.0\n", "events": "event,n\nc,3\n"}[name])
    sync(root, name)
    assert rows(root, f"select count(*), count(distinct {columns.split(',')[0]}) from {table}") == [(4, 4)] \
        if name == "orders" else [(3, 3)]
