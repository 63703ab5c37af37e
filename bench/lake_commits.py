"""Commits per second that a DuckLake with its catalog in PostgreSQL takes, against a DuckDB file.

Each writer is a process of its own (as Airflow tasks are) that opens the warehouse through the
provider's hook once and commits small transactions on that connection, each like one load record:
one row inserted into a table of its own (``w<N>``, so commits of different writers do not conflict).
Also printed: what one ``Warehouse.transaction`` costs as the provider's tasks run it (a connection
opened, the lake attached, one commit). Printed side by side:

- the DuckDB file, one writer (one machine, one writer at a time: the baseline);
- the DuckLake (catalog in a fresh PostgreSQL database on 127.0.0.1:5432, data in a temp dir) with
  1, 2 and 4 writers at once: commits per second in all, and per writer.

The figure bounds how many loads per second a shared lake can record: each ingest commits a handful
of catalog transactions (the load, the load record, drift and PII results), see
docs/decisions/0012-scale-out.md.

    python bench/lake_commits.py [--seconds 10] [--writers 1,2,4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._benchutil import code_version, reexec_isolated, versions  # noqa: E402


def _warehouse(kind: str, where: str, catalog: str):
    if kind == "duckdb":
        from dango_provider.hooks.duckdb import DuckDBHook

        return DuckDBHook(Path(where) / "warehouse.duckdb", lock_timeout=60)
    import os

    from dango_provider.hooks.ducklake import DuckLakeHook

    os.environ["AIRFLOW_CONN_BENCH_LAKE"] = catalog
    return DuckLakeHook("bench_lake", Path(where) / "lake")


def _writer(kind: str, where: str, catalog: str, table: str, seconds: float, start_at: float) -> None:
    """One writer (a process of its own, run as ``--child``): prints its commits and the mean time of
    one ``Warehouse.transaction`` as JSON."""
    warehouse = _warehouse(kind, where, catalog)
    warehouse.transaction(lambda con: con.execute(f"create table if not exists {table} (n integer, written_at timestamp)"))
    con = warehouse.connect()
    while time.time() < start_at:
        time.sleep(0.01)
    commits, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"insert into {table} values (?, now())", [commits])
        con.execute("COMMIT")
        commits += 1
    con.close()
    started = time.monotonic()
    for n in range(5):
        warehouse.transaction(lambda c, n=n: c.execute(f"insert into {table} values (?, now())", [-n]))
    print(json.dumps([commits, (time.monotonic() - started) / 5]), flush=True)


def measure(kind: str, writers: int, seconds: float) -> list[tuple]:
    from contextlib import nullcontext

    from tests import pg

    with tempfile.TemporaryDirectory(prefix="dango_bench_commits_") as where, \
            (pg.temporary_database("dango_bench_commits") if kind == "ducklake" else nullcontext()) as database:
        catalog = pg.url(database) if database else ""
        if kind == "ducklake":  # create the lake once, before the writers race for it
            _warehouse(kind, where, catalog).transaction(lambda con: con.execute("select 1"))
        start_at = time.time() + 8  # every writer has imported and attached before the clock starts
        procs = [subprocess.Popen([sys.executable, __file__, "--child", kind, where, catalog, f"w{i}", str(seconds),
                                   str(start_at)], stdout=subprocess.PIPE, text=True) for i in range(writers)]
        outputs = [proc.communicate(timeout=seconds + 120)[0] for proc in procs]
        if any(proc.returncode for proc in procs):
            raise SystemExit(f"a writer failed: exit codes {[proc.returncode for proc in procs]}")
    return [tuple(json.loads(out.strip().splitlines()[-1])) for out in outputs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", default="1,2,4", help="concurrent lake writers, comma-separated")
    parser.add_argument("--cold-imports", action="store_true")
    parser.add_argument("--child", nargs=6, metavar=("KIND", "WHERE", "CATALOG", "TABLE", "SECONDS", "START"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, where, catalog, table, seconds, start_at = args.child
        _writer(kind, where, catalog, table, float(seconds), float(start_at))
        return 0
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code
    print(f"# catalog commits: {args.seconds:.0f} s per configuration; {versions()}; {code_version()}")
    baseline = measure("duckdb", 1, args.seconds)
    base_rate = sum(c for c, _ in baseline) / args.seconds
    print(f"duckdb file, 1 writer: {base_rate:.0f} commits/s; one Warehouse.transaction "
          f"{1000 * baseline[0][1]:.0f} ms", flush=True)
    for writers in (int(n) for n in args.writers.split(",")):
        results = measure("ducklake", writers, args.seconds)
        rate = sum(c for c, _ in results) / args.seconds
        each = sum(t for _, t in results) / len(results)
        print(f"ducklake, {writers} writer(s): {rate:.0f} commits/s in all, {rate / writers:.0f} per writer, "
              f"{rate / base_rate:.2f}x the file's; one Warehouse.transaction {1000 * each:.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
