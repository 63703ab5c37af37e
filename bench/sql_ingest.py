"""A PostgreSQL table into DuckDB: the `sql_database` ingest vs the bare library path.

Creates a throw-away database on 127.0.0.1:5432 with one table of N rows (default 1,000,000: bigint
key, int, numeric, text, two timestamptz), then, each in a fresh process (so peak RSS is its own):

- baseline: psycopg2 server-side cursor, 50,000 rows a fetch, columns turned into a pyarrow table,
  inserted into a fresh DuckDB file (connectorx is not installed here);
- provider: `extract_source` + `load_source` of a `sql_database` source (pyarrow backend, merge on the
  key) into a fresh warehouse.

Both run ``--repeat`` interleaved rounds (default 3). Prints rows/s of each path's median round, the
ratio provider/baseline (target >= 0.5) and the highest peak RSS of each path.

    python bench/sql_ingest.py [--rows 1000000] [--repeat 3]
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

from bench._benchutil import code_version, import_mode, peak_rss_mb_self, reexec_isolated, timed_sync, versions  # noqa: E402

BATCH = 50_000


def _seed(database: str, rows: int) -> None:
    from tests.pg import connect

    con = connect(database)
    with con.cursor() as cur:
        cur.execute(
            "create table orders (id bigint primary key, customer_id int not null, amount numeric(12, 2), "
            "status text, created_at timestamptz not null, updated_at timestamptz not null)")
        cur.execute(
            "insert into orders select g, g %% 5000, (g %% 997) * 1.25, "
            "(array['new', 'paid', 'shipped', 'cancelled'])[1 + g %% 4], "
            "timestamptz '2024-01-01 00:00+00' + g * interval '1 second', "
            "timestamptz '2024-01-01 00:00+00' + g * interval '2 second' from generate_series(1, %s) g", (rows,))
        cur.execute("analyze orders")
    con.close()


def _baseline(database: str, target: Path) -> dict:
    import duckdb
    import psycopg2
    import pyarrow as pa

    started = time.perf_counter()
    pg = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=database)
    duck = duckdb.connect(str(target))
    rows = 0
    try:
        with pg.cursor(name="bench") as cur:
            cur.itersize = BATCH
            cur.execute("select id, customer_id, amount, status, created_at, updated_at from orders")
            names = None
            while True:
                chunk = cur.fetchmany(BATCH)
                if not chunk:
                    break
                names = names or [d[0] for d in cur.description]
                duck.register("batch", pa.table({n: list(col) for n, col in zip(names, zip(*chunk))}))
                if rows == 0:
                    duck.execute("create table orders as select * from batch")
                else:
                    duck.execute("insert into orders select * from batch")
                duck.unregister("batch")
                rows += len(chunk)
    finally:
        pg.close()
        duck.close()
    return {"rows": rows, "seconds": time.perf_counter() - started}


def _provider(database: str, root: Path) -> dict:
    import os

    os.environ["AIRFLOW_CONN_BENCH_DB"] = f"postgresql://postgres@127.0.0.1:5432/{database}"
    root.mkdir(parents=True)
    (root / "sources.yml").write_text(
        "sources:\n  - name: shop\n    type: sql_database\n"
        "    sql_database: {conn_id: bench_db, schema: public, tables: [orders]}\n")
    # an Airflow task process has Airflow imported before the operator runs: the connection lookup
    # below should not time Airflow's import
    from airflow.sdk import BaseHook  # noqa: F401

    return timed_sync(root, "shop")


def _child(mode: str, database: str, path: str) -> int:
    result = _baseline(database, Path(path)) if mode == "baseline" else _provider(database, Path(path))
    result["peak_rss_mb"] = peak_rss_mb_self()  # VmHWM: ru_maxrss would start from the parent's RSS
    print(json.dumps(result))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of both paths (medians are reported)")
    parser.add_argument("--cold-imports", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DATABASE", "PATH"))
    args = parser.parse_args()
    if args.child:
        return _child(*args.child)
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code

    from tests.pg import temporary_database

    print(f"# sql_database ingest: PostgreSQL table of {args.rows:,} rows -> DuckDB; {versions()}; {code_version()}")
    print(f"# {import_mode()}")
    rounds: dict[str, list[dict]] = {"baseline": [], "provider": []}
    with temporary_database("dango_bench") as database, tempfile.TemporaryDirectory(prefix="dango_bench_sql_") as tmp:
        started = time.perf_counter()
        _seed(database, args.rows)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
        for n in range(args.repeat):  # interleaved rounds: a slow spell of the machine hits both paths
            for mode, path in (("baseline", Path(tmp) / f"bare{n}.duckdb"), ("provider", Path(tmp) / f"project{n}")):
                proc = subprocess.run([sys.executable, __file__, "--child", mode, database, str(path)],
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    return 1
                rounds[mode].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for mode, measured in rounds.items():
        print(f"{mode:9s} seconds per round: {', '.join(format(r['seconds'], '.2f') for r in measured)}")
    # each path: its median round; peak RSS: the highest round
    results = {mode: dict(sorted(measured, key=lambda r: r["seconds"])[len(measured) // 2],
                          peak_rss_mb=max(r["peak_rss_mb"] for r in measured))
               for mode, measured in rounds.items()}
    base, ours = results["baseline"], results["provider"]
    for mode, r in results.items():
        rate = r["rows"] / r["seconds"]
        split = f" (extract+normalize {r['extract']:.2f} s, load {r['load']:.2f} s)" if "extract" in r else ""
        print(f"{mode:9s} {r['rows']:,} rows in {r['seconds']:.2f} s = {rate:,.0f} rows/s{split}; "
              f"peak RSS {r['peak_rss_mb']:.0f} MB")
    ratio = (ours["rows"] / ours["seconds"]) / (base["rows"] / base["seconds"])
    print(f"ratio provider/baseline: {ratio:.2f}x  (target >= 0.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
