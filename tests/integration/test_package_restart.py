"""``sources.resume`` on a plain dlt pipeline with nested tables: a load killed after every job of an
``append`` package committed, none recorded done, restarted: each row (root and nested) once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

KILLED_LOAD = """
import os, sys
import dlt
from dlt.common.storages.load_package import PackageStorage

real = PackageStorage.save_pending_transition
done = []

def committed_then_die(self, load_id, file_name, *args, **kwargs):
    done.append(file_name)
    if len([f for f in done if not f.startswith("_dlt")]) == 3:  # root and both nested tables
        os._exit(9)
    return real(self, load_id, file_name, *args, **kwargs)

PackageStorage.save_pending_transition = committed_then_die
orders = [{"id": i, "lines": [{"sku": f"s{i}-{j}", "tags": [{"t": "x"}, {"t": "y"}]} for j in range(2)]}
          for i in range(3)]
pipeline = dlt.pipeline("nested", pipelines_dir=sys.argv[1], destination=dlt.destinations.duckdb(sys.argv[2]),
                        dataset_name="raw_nested")
pipeline.extract(dlt.resource(orders, name="orders", write_disposition="append"))
pipeline.normalize()
pipeline.load()
"""


def test_a_killed_append_package_with_nested_tables_loads_each_row_once(tmp_path):
    import dlt

    from dango_provider.sources.resume import delete_package_rows, restart_package

    pipelines, warehouse = tmp_path / "pipelines", tmp_path / "w.duckdb"
    killed = subprocess.run([sys.executable, "-c", KILLED_LOAD, str(pipelines), str(warehouse)],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr[-3000:]
    normalized = pipelines / "nested" / "load" / "normalized"
    packages = [p for p in normalized.iterdir() if p.is_dir()]  # dlt may leave a file beside them
    assert len(packages) == 1, sorted(p.name for p in normalized.iterdir())
    (package,) = packages
    tables = restart_package(package)
    assert tables == {"_dlt_pipeline_state": "", "orders": "", "orders__lines": "orders",
                      "orders__lines__tags": "orders__lines"}
    con = duckdb.connect(str(warehouse))
    try:
        before = con.execute("select count(*) from raw_nested.orders__lines__tags").fetchone()[0]
        assert before == 12, "the killed attempt committed the nested rows"
        delete_package_rows(con, "raw_nested", tables, package.name)
    finally:
        con.close()
    pipeline = dlt.pipeline("nested", pipelines_dir=str(pipelines), destination=dlt.destinations.duckdb(str(warehouse)),
                            dataset_name="raw_nested")
    pipeline.load()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        counts = [con.execute(f"select count(*), count(distinct _dlt_id) from raw_nested.{t}").fetchone()
                  for t in ("orders", "orders__lines", "orders__lines__tags")]
        loads = con.execute("select count(*) from raw_nested._dlt_loads").fetchone()[0]
    finally:
        con.close()
    assert counts == [(3, 3), (6, 6), (12, 12)]
    assert loads == 1
    assert not [p for p in Path(normalized).iterdir() if p.is_dir()]
