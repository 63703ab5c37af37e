"""Benchmark: the no-op re-sync (file unchanged), against the first sync as reference.

Run from the repository root:  python bench/noop_resync.py [--rows N] [--repeat N] [--skip-airflow] [--cold-imports]

* scaffolds a project (``init_project``) with one csv source over a deterministic 200,000-row CSV;
* first sync, in this process: ``extract_source`` + ``load_source`` (reference figure);
* no-op sync: ``extract_source`` again with the file unchanged raises ``NothingToLoad``: timed
  ``--repeat`` times in this process (imports warm), with and without ``load_project`` in front;
  then once in a fresh ``python`` process (wall time, so interpreter start and imports included);
* unless ``--skip-airflow``: ``airflow tasks test dango_ingest__<src> extract`` with a temp
  AIRFLOW_HOME (after ``airflow db migrate``), twice; prints the command's wall time and the task's
  own times read from its log (task started -> final state; execute() window). As reference, a real
  extract of the same file in a task (a second source over the same directory, never synced), as
  shipped and with dlt's Airflow secrets provider off (what-if).
Prints figures and ratios; never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _benchutil as bu  # noqa: E402

TARGET_NOOP_S = 2.0
SOURCE = "events"
REF_SOURCE = "events_ref"

FRESH_PROCESS_NOOP = """
import sys, time
t0 = time.perf_counter()
from dango_provider.config.loader import load_project
from dango_provider.hooks.warehouse import warehouse_for
from dango_provider.sources.runner import NothingToLoad, extract_source
t1 = time.perf_counter()
project = load_project(sys.argv[1])
try:
    extract_source(project, project.source(sys.argv[2]), warehouse_for(project))
    print("UNEXPECTED: something was extracted")
except NothingToLoad:
    pass
t2 = time.perf_counter()
print(f"imports {t1 - t0:.3f}s, load_project + no-op {t2 - t1:.3f}s")
"""


def generate_csv(path: Path, rows: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(f"""
        COPY (
            SELECT i AS event_id, (i * 7919) % 5000 AS user_id, round(((i * 2654435761) % 100000) / 100.0, 2) AS value,
                   DATE '2023-01-01' + CAST(i % 700 AS INTEGER) AS event_date,
                   (['view', 'click', 'buy', 'share'])[1 + i % 4] AS kind
            FROM range({rows}) t(i) ORDER BY i
        ) TO '{path}' (FORMAT csv, HEADER true)""")
    con.close()


# ------------------------------------------------------------------------------------------ airflow
_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z?)")


def _ts(line: str) -> datetime | None:
    m = _TS.match(line)
    return datetime.fromisoformat(m.group(1).replace("Z", "+00:00")) if m else None


def parse_task_log(text: str) -> dict:
    """Times of the task from the ``airflow tasks test`` log (seconds), where the markers are found."""
    lines = text.splitlines()
    marks: dict[str, datetime] = {}
    marks_state = "?"
    for line in lines:
        ts = _ts(line)
        if ts is None:
            continue
        if "[DAG TEST] running task" in line and "run" not in marks:
            marks["run"] = ts
        elif "Task started" in line and "started" not in marks:
            marks["started"] = ts
        elif "::endgroup::" in line and "started" in marks and "exec" not in marks:
            marks["exec"] = ts
        elif "::group::Post Execute" in line and "exec" in marks and "post" not in marks:
            marks["post"] = ts
        elif "new_state=" in line and "started" in marks:
            marks["end"] = ts
            found = re.search(r"new_state=(\w+)", line)
            marks_state = found.group(1) if found else "?"
        elif "[DAG TEST] end task" in line:
            marks["dag_end"] = ts
    out: dict = {}
    if "run" in marks and "started" in marks:
        out["before_task_started_s"] = (marks["started"] - marks["run"]).total_seconds()
    if "started" in marks and "end" in marks:
        out["task_s"] = (marks["end"] - marks["started"]).total_seconds()
        out["state"] = marks_state
    if "exec" in marks and "post" in marks:
        out["execute_s"] = (marks["post"] - marks["exec"]).total_seconds()
    if "run" in marks and "dag_end" in marks:
        out["dag_test_s"] = (marks["dag_end"] - marks["run"]).total_seconds()
    out["skipped_reason"] = next((ln.split("reason=", 1)[1].strip() for ln in lines if "Skipping task." in ln
                                  and "reason=" in ln), None)
    return out


def _tasks_test(airflow: str, env: dict, dag_id: str, log: Path, title: str) -> bool:
    code, peak, wall = bu.run_logged([airflow, "tasks", "test", dag_id, "extract"], log, env=env)
    if code != 0:
        print(bu.tail(log))
        print(f"airflow tasks test failed (exit {code})")
        return False
    t = parse_task_log(log.read_text(errors="replace"))
    fmt = lambda key: f"{t[key]:.2f}s" if key in t else "n/a"  # noqa: E731
    print(f"{title}: command wall {wall:.2f}s (interpreter start, imports, DAG parse, dag run setup included; "
          f"peak RSS {peak:.0f} MB sampled)")
    print(f"    task state {t.get('state', '?')}: task started -> final state {fmt('task_s')}, "
          f"execute() {fmt('execute_s')}; [DAG TEST] running -> task started {fmt('before_task_started_s')}")
    if t.get("skipped_reason"):
        print(f"    skip reason: {t['skipped_reason']}")
    return True


def airflow_figures(project: Path, tmp: Path) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    env = dict(os.environ, AIRFLOW_HOME=str(tmp / "airflow_home"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"), AIRFLOW__DANGO__PROJECT_DIR=str(project))
    log = tmp / "airflow_migrate.log"
    code, _, wall = bu.run_logged([airflow, "db", "migrate"], log, env=env)
    if code != 0:
        print(bu.tail(log))
        print(f"airflow db migrate failed (exit {code}); skipping the Airflow figures")
        return
    print(f"airflow db migrate (temp AIRFLOW_HOME, SQLite): {wall:.1f}s wall (setup, not measured)")
    for attempt in (1, 2):
        if not _tasks_test(airflow, env, f"dango_ingest__{SOURCE}", tmp / f"airflow_noop_{attempt}.log",
                           f"no-op: airflow tasks test dango_ingest__{SOURCE} extract, run {attempt}"):
            return
    # reference: a real extract in a task (source REF reads the same file, never loaded, so it is read)
    print(f"reference, a real extract in a task (source '{REF_SOURCE}' over the same file, never synced):")
    _tasks_test(airflow, env, f"dango_ingest__{REF_SOURCE}", tmp / "airflow_extract.log",
                f"  airflow tasks test dango_ingest__{REF_SOURCE} extract")
    _tasks_test(airflow, dict(env, PROVIDERS__ENABLE_AIRFLOW_SECRETS="false"), f"dango_ingest__{REF_SOURCE}",
                tmp / "airflow_extract_whatif.log",
                "  same, what-if PROVIDERS__ENABLE_AIRFLOW_SECRETS=false (dlt's Airflow Variable lookups off)")


# --------------------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-airflow", action="store_true", help="skip the airflow tasks test figures")
    parser.add_argument("--cold-imports", action="store_true", help="no byte-code cache (see _benchutil.py)")
    args = parser.parse_args()
    code = bu.reexec_isolated(sys.argv)
    if code is not None:
        return code

    bu.banner("bench/noop_resync.py")
    tmp = Path(tempfile.mkdtemp(prefix="dango_bench_noop_"))
    try:
        project_dir = bu.make_project(tmp / "project", bu.sources_file([
            bu.csv_source_yml(SOURCE, f"include/{SOURCE}"), bu.csv_source_yml(REF_SOURCE, f"include/{SOURCE}")]))
        data = project_dir / "include" / SOURCE
        data.mkdir(parents=True)
        generate_csv(data / f"{SOURCE}.csv", args.rows)
        print(f"project: csv source '{SOURCE}' over 1 file, {args.rows:,} rows x 5 columns, "
              f"{(data / f'{SOURCE}.csv').stat().st_size / 2**20:.1f} MiB (and '{REF_SOURCE}' over the same "
              "directory, used only by the Airflow reference below)")

        t0 = time.perf_counter()
        from dango_provider.config.loader import load_project
        from dango_provider.hooks.warehouse import warehouse_for
        from dango_provider.sources.runner import NothingToLoad, extract_source, load_source
        import_s = time.perf_counter() - t0

        project = load_project(project_dir)
        source, warehouse = project.source(SOURCE), warehouse_for(project)
        with bu.quiet_fds(tmp / "first_sync.log"):  # dlt's progress lines and warnings
            t0 = time.perf_counter()
            extracted = extract_source(project, source, warehouse)
            t1 = time.perf_counter()
            load_source(project, source, warehouse, owner="bench",
                        extracted={"files": extracted.files, "row_counts": extracted.row_counts})
            t2 = time.perf_counter()
        first = t2 - t0
        print(f"\nimports of the runner in this process: {import_s:.2f}s (not included below)")
        print(f"first sync (reference): {first:.2f}s = extract+normalize {t1 - t0:.2f}s + load {t2 - t1:.2f}s, "
              f"{extracted.row_counts} rows")

        noop, noop_with_load = [], []
        for _ in range(args.repeat):
            s0 = time.perf_counter()
            try:
                extract_source(project, source, warehouse)
                print("UNEXPECTED: the unchanged file was extracted again")
            except NothingToLoad:
                pass
            noop.append(time.perf_counter() - s0)
            s0 = time.perf_counter()
            p = load_project(project_dir)
            try:
                extract_source(p, p.source(SOURCE), warehouse_for(p))
            except NothingToLoad:
                pass
            noop_with_load.append(time.perf_counter() - s0)
        lo, med = bu.stats(noop)
        lo2, med2 = bu.stats(noop_with_load)
        print(f"no-op sync, extract_source -> NothingToLoad, {args.repeat} runs in this process: "
              f"min {lo * 1000:.2f} ms, median {med * 1000:.2f} ms (target < {TARGET_NOOP_S:g} s: "
              f"{'met' if med < TARGET_NOOP_S else 'NOT met'}); first sync / no-op = {first / med:,.0f}x")
        print(f"no-op sync incl. load_project (sources.yml parse + validation): min {lo2 * 1000:.2f} ms, "
              f"median {med2 * 1000:.2f} ms")

        log = tmp / "fresh_noop.log"
        code, peak, wall = bu.run_logged([sys.executable, "-c", FRESH_PROCESS_NOOP, str(project_dir), SOURCE], log)
        inner = bu.tail(log, 1)
        print(f"no-op sync in a fresh python process: {wall:.2f}s wall (interpreter start + imports + no-op; "
              f"child says: {inner}; peak RSS {peak:.0f} MB sampled)"
              + ("" if code == 0 else f" FAILED exit {code}"))

        if not args.skip_airflow:
            print()
            airflow_figures(project_dir, tmp)
        print(f"\n   load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
