"""A warehouse file that was deleted, replaced or restored is noticed: file sources read every file again
(and say so), cursor sources refuse to skip history and name the command to run, and governance history
(baselines, accepted changes, PII findings) comes back from the journal outside the warehouse.
Real dlt loads into real DuckDB files."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import duckdb
import pytest

from dango_provider.config.loader import load_project
from dango_provider.core import governance_meta as meta
from dango_provider.core.drift_check import accept, check_drift
from dango_provider.core.naming import Naming
from dango_provider.exceptions import IngestError
from dango_provider.hooks.duckdb import DuckDBHook
from tests.conftest import make_small_project
from tests.ingest import query, sync

pytestmark = pytest.mark.reliability

CSV = 'version: "1.0"\nsources:\n  - name: orders\n    type: csv\n    primary_key: order_id\n' \
      "    write_disposition: append\n    csv: {directory: data/orders}\n"


@pytest.fixture
def project(tmp_path) -> Path:
    root = make_small_project(tmp_path / "p", CSV, {"data/orders/a.csv": "order_id,amount\n1,10.0\n2,20.0\n",
                                                    "data/orders/b.csv": "order_id,amount\n3,30.0\n"})
    sync(root, "orders")
    return root


def warehouse(root: Path) -> Path:
    return root / "data" / "warehouse.duckdb"


def test_a_deleted_warehouse_is_reloaded_from_every_file(project, caplog):
    warehouse(project).unlink()
    from tests.conftest import BIN, run

    status = run([str(BIN / "dango"), "status", "--project", str(project)], {})
    assert f"reload pending: the warehouse '{warehouse(project)}' no longer exists" in status.stdout

    with caplog.at_level(logging.WARNING):
        extracted, loaded = sync(project, "orders")

    assert f"the warehouse '{warehouse(project)}' no longer exists (the source had loaded into it); every file is " \
           "read again and loaded" in caplog.text
    assert sorted(extracted.files) == ["data/orders/a.csv", "data/orders/b.csv"]
    assert query(project, "select order_id from raw_orders.orders order by 1") == [(1,), (2,), (3,)]
    with pytest.raises(Exception, match="none new or changed"):  # and the next sync is a no-op again
        sync(project, "orders")


def test_a_warehouse_replaced_by_another_file_is_reloaded(project, tmp_path):
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    shutil.move(other, warehouse(project))  # a new inode: an older backup moved into place

    extracted, _ = sync(project, "orders")

    assert len(extracted.files) == 2
    assert query(project, "select count(*) from raw_orders.orders") == [(3,)]


def test_a_warehouse_copied_over_in_place_fails_the_next_load(project, tmp_path):
    stale = tmp_path / "stale.duckdb"
    con = duckdb.connect(str(stale))
    con.execute("create schema dango_meta")
    con.execute("create table dango_meta.warehouse_identity as select 'another' as id, now() as created_at")
    con.close()
    with open(warehouse(project), "r+b") as target:  # same inode, other content (cp over the file)
        target.truncate(0)
        target.write(stale.read_bytes())
    (project / "data" / "orders" / "c.csv").write_text("order_id,amount\n4,40.0\n")

    with pytest.raises(IngestError) as info:
        sync(project, "orders")

    assert "is not the one the source last loaded into" in str(info.value)
    assert "nothing was loaded. Run the source once with full_refresh (airflow dags trigger dango_ingest__orders " \
           "--conf '{\"full_refresh\": true}')" in str(info.value)
    sync(project, "orders", full_refresh=True)
    assert query(project, "select order_id from raw_orders.orders order by 1") == [(1,), (2,), (3,), (4,)]


def test_a_cursor_source_refuses_to_skip_history(tmp_path):
    root = make_small_project(tmp_path / "p", (
        'version: "1.0"\nsources:\n  - name: feed\n    type: dlt_native\n'
        "    dlt_native: {source_module: feed, source_function: rows}\n"), {
        "custom_sources/feed.py": "import dlt\n\n@dlt.resource(primary_key='id', write_disposition='merge')\n"
                                  "def rows():\n    yield [{'id': 1}, {'id': 2}]\n"})
    sync(root, "feed")
    warehouse(root).unlink()

    with pytest.raises(IngestError) as info:
        sync(root, "feed")

    assert str(info.value).startswith(f"source 'feed': the warehouse '{warehouse(root)}' no longer exists")
    assert "run the source once with full_refresh".lower() in str(info.value).lower()
    assert not warehouse(root).exists()  # nothing was written
    sync(root, "feed", full_refresh=True)
    assert query(root, "select id from raw_feed.rows order by 1") == [(1,), (2,)]


def test_governance_history_survives_a_rebuilt_warehouse(project):
    loaded = load_project(project)
    journal = Naming.governance_journal(loaded.root)
    hook = DuckDBHook(loaded.warehouse_path)
    first = {"orders": {"order_id": "BIGINT", "amount": "DOUBLE"}}
    changed = {"orders": {"order_id": "BIGINT", "amount": "VARCHAR"}}
    con = hook.connect()
    try:
        assert check_drift(con, "orders", first, on_additive="evolve", on_breaking="block", run_id="r1",
                           journal=journal).first_load
        blocked = check_drift(con, "orders", changed, on_additive="evolve", on_breaking="block", run_id="r2",
                              journal=journal)
        assert blocked.blocked
        accept(con, "orders", blocked.pending_schema, "alice", journal=journal)
        meta.ensure(con, journal)
        meta.record_pii(con, "orders", [{"table": "orders", "column": "email", "entity": "EMAIL_ADDRESS",
                                         "action": "report"}], "r2")
        meta.save_journal(con, journal)
    finally:
        con.close()
    warehouse(project).unlink()
    sync(project, "orders")  # the rebuilt warehouse

    con = hook.connect()
    try:
        again = check_drift(con, "orders", changed, on_additive="evolve", on_breaking="block", run_id="r3",
                            journal=journal)
        events = con.execute("select kind, accepted_by from dango_meta.drift_events order by detected_at").fetchall()
        pii = con.execute("select column_name, entity from dango_meta.pii_findings").fetchall()
    finally:
        con.close()
    assert not again.first_load and again.changes == []  # the accepted baseline came back: nothing to block
    assert ("type_changed", "alice") in events or any(a == "alice" for _, a in events)
    assert pii == [("email", "EMAIL_ADDRESS")]
