"""Benchmark: CSV ingest throughput and peak memory, provider vs plain DuckDB.

Run from the repository root:  python bench/ingest_csv.py [--rows N] [--repeat N] [--what-if] [--profile] [--cold-imports]

* generates a deterministic CSV (default 2,000,000 rows x 8 columns: ints, doubles, dates, short
  strings) with DuckDB ``COPY ... TO`` in a temp dir;
* baseline: ``CREATE TABLE t AS SELECT * FROM read_csv(...)`` into a fresh DuckDB file;
* measured: ``extract_source`` + ``load_source`` for a csv source over that file, into a fresh
  warehouse (a fresh ``init_project`` project), once with ``write_disposition: append`` and once
  with ``merge`` on a primary key.

Every path runs in its own child process (this script with ``--child``), after one untimed warm-up
child (10,000 rows) that fills the byte-code cache. The paths run ``--repeat`` rounds (default 3),
interleaved; each path's median round is reported. Peak RSS is the child's own VmHWM read at its end
(not ru_maxrss, which on Linux inherits the parent's RSS across fork+exec; see _benchutil.py), cross-
checked by the parent sampling the child's RSS every 50 ms. The child also reports its RSS right after
its imports (interpreter + duckdb/pyarrow/dlt/dango_provider: the fixed cost). Prints figures and
ratios; never asserts on time.

--what-if   also runs the append path with extract and load in two child processes (the shape of
            the two Airflow tasks): peak RSS of each.
--profile   adds a cProfile top list per provider path (figures then include profiler overhead).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _benchutil as bu  # noqa: E402

TARGET_RATIO = 0.5
TARGET_RSS_MB = 400
COLUMNS = 8


# --------------------------------------------------------------------------------------------- data
def generate_csv(path: Path, rows: int) -> float:
    """Deterministic CSV with 8 columns; returns seconds taken."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
            SELECT
                i AS order_id,                                                  -- BIGINT, unique
                (i * 7919) % 100000 AS customer_id,                             -- BIGINT
                1 + (i * 31) % 9 AS quantity,                                   -- BIGINT
                round(((i * 2654435761) % 1000000) / 100.0, 2) AS amount,      -- DOUBLE
                round(((i * 40503) % 1000) / 1000.0, 3) AS discount,            -- DOUBLE
                DATE '2020-01-01' + CAST(i % 1500 AS INTEGER) AS order_date,    -- DATE
                (['new', 'paid', 'shipped', 'returned', 'cancelled'])[1 + i % 5] AS status,
                (['DE', 'FR', 'GB', 'US', 'NL', 'ES', 'IT'])[1 + (i * 13) % 7] AS country
            FROM range({rows}) t(i)
            ORDER BY i
        ) TO '{path}' (FORMAT csv, HEADER true)
        """
    )
    con.close()
    return time.perf_counter() - started


# -------------------------------------------------------------------------------------------- child
def child_duckdb(csv_path: Path, workdir: Path) -> dict:
    import duckdb

    rss_after_imports = bu.rss_mb_now()
    db = workdir / "baseline.duckdb"
    db.unlink(missing_ok=True)  # from an earlier round
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv_path}')")
    con.close()
    total = time.perf_counter() - started
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    return {"rows": rows, "total_s": total, "rss_after_imports_mb": rss_after_imports,
            "peak_rss_mb": bu.peak_rss_mb_self()}


def _new_project(csv_path: Path, workdir: Path, disposition: str) -> Path:
    project_dir = Path(tempfile.mkdtemp(prefix=f"project_{disposition}_", dir=workdir))
    pk = "order_id" if disposition == "merge" else None
    bu.make_project(project_dir, bu.sources_file([
        bu.csv_source_yml("orders", "include/orders", disposition=disposition, primary_key=pk)]))
    data_dir = project_dir / "include" / "orders"
    data_dir.mkdir(parents=True)
    try:
        os.link(csv_path, data_dir / "orders.csv")  # same file, no copy: read from inside the project
    except OSError:
        shutil.copyfile(csv_path, data_dir / "orders.csv")
    return project_dir


def child_provider(csv_path: Path, workdir: Path, disposition: str, profile: bool, phase: str,
                   project_arg: str | None) -> dict:
    """phase both: extract + load in this process; extract / load: one of them (as two Airflow tasks do)."""
    import dlt  # noqa: F401
    import duckdb
    import pyarrow  # noqa: F401

    from dango_provider.config.loader import load_project
    from dango_provider.hooks.warehouse import warehouse_for
    from dango_provider.sources import runner

    rss_after_imports = bu.rss_mb_now()
    project_dir = Path(project_arg) if project_arg else _new_project(csv_path, workdir, disposition)
    project = load_project(project_dir)
    source = project.source("orders")
    warehouse = warehouse_for(project)
    result: dict = {"rss_after_imports_mb": rss_after_imports, "project": str(project_dir)}

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    if phase in ("both", "extract"):
        t0 = time.perf_counter()
        extracted = runner.extract_source(project, source, warehouse)
        result.update(extract_s=time.perf_counter() - t0, extract_reported_s=extracted.seconds,
                      rss_after_extract_mb=bu.rss_mb_now(),
                      extracted={"files": extracted.files, "row_counts": extracted.row_counts})
    if phase in ("both", "load"):
        extracted = result.get("extracted") or json.loads((project_dir / "bench_extracted.json").read_text())
        t1 = time.perf_counter()
        runner.load_source(project, source, warehouse, owner="bench", extracted=extracted)
        result["load_s"] = time.perf_counter() - t1
    if profiler is not None:
        profiler.disable()
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        result["profile"] = out.getvalue()
    result["peak_rss_mb"] = bu.peak_rss_mb_self()

    if phase == "extract":
        (project_dir / "bench_extracted.json").write_text(json.dumps(result["extracted"]))
        return result
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    result["rows"] = con.execute("SELECT count(*) FROM raw_orders.orders").fetchone()[0]
    result["staging_dataset"] = bool(con.execute(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'raw_orders_staging'").fetchone()[0])
    con.close()
    shutil.rmtree(project_dir, ignore_errors=True)
    return result


def run_child(kind: str, csv_path: Path, workdir: Path, *, profile: bool = False, label: str | None = None,
              extra_env: dict | None = None, phase: str = "both", project: str | None = None) -> dict:
    """Run one path in a child process; return its result (with its own peak RSS) and the sampled peak."""
    label = label or kind
    out_path = workdir / f"result_{label}.json"
    log_path = workdir / f"child_{label}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--csv", str(csv_path),
           "--workdir", str(workdir), "--out", str(out_path), "--phase", phase]
    if project:
        cmd += ["--project", project]
    if profile:
        cmd.append("--profile")
    env = dict(os.environ, **(extra_env or {}))
    code, sampled_peak, wall = bu.run_logged(cmd, log_path, env=env)
    if code != 0:
        print(bu.tail(log_path))
        raise SystemExit(f"child '{label}' failed with exit code {code} (log above)")
    result = json.loads(out_path.read_text())
    result["sampled_peak_rss_mb"] = sampled_peak
    result["process_wall_s"] = wall
    if "extract_s" in result and "load_s" in result:
        result["total_s"] = result["extract_s"] + result["load_s"]
    return result


def run_split(kind: str, csv_path: Path, workdir: Path) -> dict:
    """Extract in one child, load in another (the shape of the two Airflow tasks); combined figures."""
    ext = run_child(kind, csv_path, workdir, label=f"{kind}_split_extract", phase="extract")
    load = run_child(kind, csv_path, workdir, label=f"{kind}_split_load", phase="load", project=ext["project"])
    return {"rows": load["rows"], "staging_dataset": load.get("staging_dataset"), "extract_s": ext["extract_s"], "load_s": load["load_s"],
            "total_s": ext["extract_s"] + load["load_s"], "extract_reported_s": ext["extract_reported_s"],
            "rss_after_imports_mb": max(ext["rss_after_imports_mb"], load["rss_after_imports_mb"]),
            "rss_after_extract_mb": ext["rss_after_extract_mb"],
            "peak_rss_mb": max(ext["peak_rss_mb"], load["peak_rss_mb"]),
            "sampled_peak_rss_mb": max(ext["sampled_peak_rss_mb"], load["sampled_peak_rss_mb"]),
            "extract_peak_rss_mb": ext["peak_rss_mb"], "load_peak_rss_mb": load["peak_rss_mb"]}


# ------------------------------------------------------------------------------------------- parent
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of all paths (medians are reported)")
    parser.add_argument("--what-if", action="store_true", help="also run append with extract and load in two processes")
    parser.add_argument("--profile", action="store_true", help="print a cProfile top list per provider path")
    parser.add_argument("--cold-imports", action="store_true", help="no byte-code cache (see _benchutil.py)")
    parser.add_argument("--child", choices=["duckdb", "append", "merge"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["both", "extract", "load"], default="both", help=argparse.SUPPRESS)
    parser.add_argument("--project", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        csv_path, workdir = Path(args.csv), Path(args.workdir)
        if args.child == "duckdb":
            result = child_duckdb(csv_path, workdir)
        else:
            result = child_provider(csv_path, workdir, args.child, args.profile, args.phase, args.project)
        Path(args.out).write_text(json.dumps(result))
        return 0

    code = bu.reexec_isolated(sys.argv)
    if code is not None:
        return code

    bu.banner("bench/ingest_csv.py")
    tmp = Path(tempfile.mkdtemp(prefix="dango_bench_ingest_"))
    try:
        warm_csv = tmp / "warmup.csv"
        generate_csv(warm_csv, 10_000)
        started = time.perf_counter()
        run_child("append", warm_csv, tmp, label="warmup")
        print(f"   warm-up provider run (10,000 rows, untimed): {time.perf_counter() - started:.1f}s wall")

        csv_path = tmp / "orders.csv"
        gen_s = generate_csv(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 2**20
        print(f"csv: {args.rows:,} rows x {COLUMNS} columns, {size_mb:.1f} MiB, generated in {gen_s:.2f}s")

        runs = [("duckdb", "duckdb", None), ("append", "append", None), ("merge", "merge", None)]
        if args.what_if:
            runs += [("append", "append 2 processes", "split")]
        rounds: dict[str, list[dict]] = {label: [] for _, label, _ in runs}
        for _ in range(args.repeat):  # rounds interleave the paths, so a slow spell of the machine hits all
            for kind, label, env in runs:
                if env == "split":
                    result = run_split(kind, csv_path, tmp)
                else:
                    result = run_child(kind, csv_path, tmp, profile=args.profile and kind != "duckdb",
                                       label=label.replace(" ", "_"), extra_env=env)
                if result["rows"] != args.rows:
                    print(f"WARNING: {label} left {result['rows']:,} rows, expected {args.rows:,}")
                rounds[label].append(result)
        # each path is represented by its median round (by total time); peak RSS is the highest of all rounds
        results = {}
        for label, measured in rounds.items():
            median = sorted(measured, key=lambda r: r["total_s"])[len(measured) // 2]
            results[label] = dict(median, peak_rss_mb=max(r["peak_rss_mb"] for r in measured),
                                  sampled_peak_rss_mb=max(r["sampled_peak_rss_mb"] for r in measured),
                                  all_total_s=[r["total_s"] for r in measured])
        if args.repeat > 1:
            print(f"rounds: {args.repeat}; figures below are each path's median round, peak RSS the highest round")
            for label, measured in rounds.items():
                print(f"   {label:<22} total s per round: {', '.join(format(r['total_s'], '.2f') for r in measured)}")

        base = results["duckdb"]
        base_rps = base["rows"] / base["total_s"]
        print()
        print(f"{'path':<30}{'total s':>8}{'rows/s':>11}{'vs duckdb':>10}{'extract+norm s':>15}{'load s':>8}"
              f"{'peak RSS MB':>12}{'(sampled)':>10}{'RSS after imports MB':>21}")
        print(f"{'duckdb CTAS read_csv':<30}{base['total_s']:>8.2f}{base_rps:>11,.0f}{1.0:>10.2f}{'-':>15}{'-':>8}"
              f"{base['peak_rss_mb']:>12.0f}{base['sampled_peak_rss_mb']:>10.0f}{base['rss_after_imports_mb']:>21.0f}")
        provider_labels = [label for _, label, _ in runs if label != "duckdb"]
        for label in provider_labels:
            r = results[label]
            rps = r["rows"] / r["total_s"]
            print(f"{'provider ' + label:<30}{r['total_s']:>8.2f}{rps:>11,.0f}{rps / base_rps:>10.2f}"
                  f"{r['extract_s']:>15.2f}{r['load_s']:>8.2f}{r['peak_rss_mb']:>12.0f}"
                  f"{r['sampled_peak_rss_mb']:>10.0f}{r['rss_after_imports_mb']:>21.0f}")
        print()
        for label in provider_labels:
            r = results[label]
            rps = r["rows"] / r["total_s"]
            ratio = rps / base_rps
            share = r["extract_s"] / r["total_s"] * 100
            print(f"provider {label}: {rps:,.0f} rows/s = {ratio:.2f}x duckdb "
                  f"(target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
            print(f"    peak RSS {r['peak_rss_mb']:.0f} MB (target < {TARGET_RSS_MB}: "
                  f"{'met' if r['peak_rss_mb'] < TARGET_RSS_MB else 'NOT met'}); "
                  f"{r['rss_after_imports_mb']:.0f} MB right after imports, {r['rss_after_extract_mb']:.0f} MB "
                  "after extract")
            print(f"    split: extract+normalize {r['extract_s']:.2f}s ({share:.0f}%; ExtractResult.seconds "
                  f"{r['extract_reported_s']:.2f}s), load {r['load_s']:.2f}s ({100 - share:.0f}%)"
                  + ("; load went through the raw_orders_staging dataset" if r.get("staging_dataset") else
                     "; no staging dataset"))
        if args.what_if:
            sp = results["append 2 processes"]
            print(f"\nappend with extract and load in two processes (as the extract and load tasks run): peak RSS "
                  f"extract {sp['extract_peak_rss_mb']:.0f} MB, load {sp['load_peak_rss_mb']:.0f} MB")
        print(f"\n   load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.profile:
            for label in provider_labels:
                print(f"\n-- cProfile, provider {label} (tottime, top 15) --")
                print(results[label]["profile"].strip())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
