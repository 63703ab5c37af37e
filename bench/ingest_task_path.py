"""A 2,000,000-row CSV through the real task path, side by side with DuckDB's own loader, rounds interleaved:

- ours: ``airflow dags test dango_ingest__big`` (extract, load, drift, PII, staging ... as Airflow runs
  them: one process per DAG run, the tasks' hand-over through the run stash) minus ``airflow dags test
  dango_ingest__tiny`` (the same DAG over a 10-row CSV) on the same project: the marginal cost of the rows (the rows in the warehouse are counted);
- DuckDB: ``CREATE TABLE t AS SELECT * FROM read_csv(...)`` of the same file into a fresh DuckDB file,
  in a fresh ``python`` process (imports not timed).

Prints per round the three times and each task's duration (from Airflow's metadata database) for the big
and the tiny run, then the ratio DuckDB / marginal of the medians (target >= 0.5), the marginal taken
both from the commands' wall time and from the sum of the tasks' durations (steadier: process start and
DAG parse, the same for both, drop out); asserts nothing. The
project and the metadata database are set up untimed; each round gets a fresh project.

    python bench/ingest_task_path.py [--rows N] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import banner, reexec_isolated, stats  # noqa: E402
from _benchutil import timed_call as timed  # noqa: E402
from ingest_csv import generate_csv  # noqa: E402

BIN = Path(sys.executable).parent
SOURCES = """\
version: "1.0"
defaults: {retries: 0}
sources:
  - name: big
    type: csv
    csv: {directory: data/uploads/big, file_pattern: "*.csv"}
  - name: tiny
    type: csv
    csv: {directory: data/uploads/tiny, file_pattern: "*.csv"}
"""
DUCKDB_CTAS = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[2])
started = time.perf_counter()
con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [sys.argv[1]])
con.close()
print(time.perf_counter() - started)
"""


def new_project(root: Path, big: Path, tiny: Path) -> dict:
    project = root / "project"
    env = dict(os.environ, AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"),
               AIRFLOW__DANGO__PROJECT_DIR=str(project))
    subprocess.run([str(BIN / "dango"), "init", str(project), "--no-pool"], env=env, check=True, capture_output=True)
    (project / "sources.yml").write_text(SOURCES)
    for name, data in (("big", big), ("tiny", tiny)):
        (project / "data" / "uploads" / name).mkdir(parents=True)
        os.link(data, project / "data" / "uploads" / name / f"{name}.csv")
    return env


def task_times(dag_id: str) -> tuple[str, float]:
    """Each task of the newest run of ``dag_id`` (seconds, or its state when it did not succeed), and the
    sum of their seconds."""
    db = Path(os.environ["AIRFLOW_HOME"]) / "airflow.db"
    con = sqlite3.connect(db)
    try:
        run_id = con.execute("select run_id from dag_run where dag_id = ? order by id desc limit 1", (dag_id,)).fetchone()[0]
        rows = con.execute("select task_id, state, duration from task_instance where dag_id = ? and run_id = ? "
                           "order by start_date", (dag_id, run_id)).fetchall()
    finally:
        con.close()
    return ("  ".join(f"{task} {duration:.1f}" if state == "success" and duration is not None else f"{task} {state}"
                      for task, state, duration in rows), sum(duration or 0.0 for _, _, duration in rows))


def rows_loaded(warehouse: Path, schema: str) -> int:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return sum(con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
                   for (table,) in con.execute("select table_name from information_schema.tables where "
                                               "table_schema = ? and table_name not like '_dlt%'", [schema]).fetchall())
    finally:
        con.close()


def duckdb_round(data: Path, work: Path) -> float:
    target = work / f"baseline_{time.monotonic_ns()}.duckdb"
    out = subprocess.run([sys.executable, "-c", DUCKDB_CTAS, str(data), str(target)], check=True,
                         capture_output=True, text=True).stdout
    target.unlink()
    return float(out.strip().splitlines()[-1])


def main() -> int:
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    banner("ingest_task_path")
    work = Path(tempfile.mkdtemp(prefix="dango_bench_task_path_"))
    log = work / "commands.log"
    try:
        big, tiny = work / "big.csv", work / "tiny.csv"
        generate_csv(big, args.rows)
        generate_csv(tiny, 10)
        print(f"   {args.rows:,} rows ({big.stat().st_size / 2**20:.1f} MiB) against 10 rows; log {log}")
        timed([str(BIN / "airflow"), "db", "migrate"], dict(os.environ), log)
        marginals, task_marginals, baselines = [], [], []
        for round_no in range(1, args.repeat + 1):
            root = work / f"round_{round_no}"
            env = new_project(root, big, tiny)
            seconds, tasks = {}, {}
            # the first run of a project pays its first dbt parse: the order alternates between rounds
            for name in ("tiny", "big") if round_no % 2 else ("big", "tiny"):
                seconds[name] = timed([str(BIN / "airflow"), "dags", "test", f"dango_ingest__{name}"], env, log)
                tasks[name] = task_times(f"dango_ingest__{name}")
            loaded = rows_loaded(root / "project" / "data" / "warehouse.duckdb", "raw_big")
            if loaded != args.rows:
                raise SystemExit(f"raw_big holds {loaded} rows, not {args.rows}; see {log}")
            t_big, t_tiny = seconds["big"], seconds["tiny"]
            t_duckdb = duckdb_round(big, work)
            marginals.append(t_big - t_tiny)
            task_marginals.append(tasks["big"][1] - tasks["tiny"][1])
            baselines.append(t_duckdb)
            print(f"-- round {round_no}: big {t_big:.1f} s, tiny {t_tiny:.1f} s, marginal {t_big - t_tiny:.1f} s; "
                  f"DuckDB read_csv {t_duckdb:.2f} s")
            print(f"     big:  {tasks['big'][0]}  (tasks {tasks['big'][1]:.1f} s)")
            print(f"     tiny: {tasks['tiny'][0]}  (tasks {tasks['tiny'][1]:.1f} s)")
            shutil.rmtree(root, ignore_errors=True)
        _, marginal = stats(marginals)
        _, task_marginal = stats(task_marginals)
        _, baseline = stats(baselines)
        print(f"== medians: DuckDB's loader {baseline:.2f} s ({args.rows / baseline:,.0f} rows/s); marginal of "
              f"{args.rows:,} rows through the task path")
        for label, value in (("wall of `airflow dags test`", marginal), ("sum of the tasks' durations", task_marginal)):
            print(f"   {label}: {value:.2f} s: DuckDB / ours = {baseline / value:.2f} (target >= 0.5)"
                  if value > 0 else f"   {label}: {value:.2f} s: within the noise of the tiny run")
        print(f"   load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
