"""Serving copies: readers in other processes never block the writer or see a half-written copy."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from dango_provider.core.snapshot import publish, serving_path
from dango_provider.exceptions import DangoError

READER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("select count(*) from t").fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute("select count(*) from t").fetchone()[0], flush=True)
"""


def _write(path, rows):
    con = duckdb.connect(str(path))
    con.execute("create table if not exists t (i integer)")
    con.execute(f"insert into t select range from range({rows})")
    con.close()


def test_publish_copies_atomically_and_a_held_reader_blocks_nothing(tmp_path):
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    _write(warehouse, 10)
    target = serving_path(warehouse)
    assert target == tmp_path / "data" / "serving" / "warehouse.duckdb"
    assert publish(warehouse, target)["tables"] == 1

    reader = subprocess.Popen([sys.executable, "-c", READER, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "10"
        _write(warehouse, 5)  # the writer is not blocked by the reader of the serving copy
        publish(warehouse, target)  # nor is publishing over the file the reader holds
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "10"  # the reader keeps its consistent copy
    finally:
        reader.wait(timeout=30)
    con = duckdb.connect(str(target), read_only=True)
    assert con.execute("select count(*) from t").fetchone()[0] == 15
    con.close()
    assert [p.name for p in target.parent.iterdir()] == ["warehouse.duckdb"]  # no temporary file left


def test_publish_without_a_warehouse_fails(tmp_path):
    with pytest.raises(DangoError, match="does not exist: nothing to publish"):
        publish(tmp_path / "missing.duckdb", tmp_path / "serving" / "missing.duckdb")
