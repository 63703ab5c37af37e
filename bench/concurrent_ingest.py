"""Several sources ingesting at once under a real scheduler vs the same sources one at a time.

A real deployment (PostgreSQL metadata database, LocalExecutor, parallelism 8: api-server, DAG
processor and scheduler) runs N csv sources. After a warm-up load of each, every source is reloaded
with ``--conf '{"full_refresh": true}'``:

1. one at a time: trigger, wait for success, next (baseline: the sum of the single-source run times);
2. all at once: trigger every source, wait for all (the makespan: first start to last end).

Extraction runs outside the ``dango_duckdb`` pool, so only the writes queue; the script prints the
ratio makespan / sum and, from Airflow's task records, how many pool tasks overlapped (none with one
slot). ``dango_transform`` is paused so that only ingest runs are measured.

Configurations, each a fresh deployment, printed side by side: the DuckDB file with its pool of one
slot (the baseline), and a DuckLake (catalog in a fresh PostgreSQL database on 127.0.0.1:5432, data
under the project) with a pool of 1, 2 and 4 slots (``--slots``).

``--celery-workers N``: CeleryExecutor (Redis on 127.0.0.1:6379 as the broker) with N workers, each with
its own working directory and ``[dango] work_dir`` (tests/deployment.py), instead of LocalExecutor; the
DuckDB file's writer tasks then go to one worker's queue (``[dango] duckdb_queue``).

    python bench/concurrent_ingest.py [--sources 4] [--rows 300000] [--warehouse both|duckdb|ducklake] [--slots 1,2,4]
                                      [--celery-workers 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._benchutil import code_version, import_mode, reexec_isolated, versions  # noqa: E402


def _project(root: Path, sources: int, rows: int, lake: bool) -> Path:
    from tests.conftest import make_small_project

    entries = "".join(f"  - name: s{i}\n    type: csv\n    primary_key: id\n    csv: {{directory: data/s{i}}}\n"
                      for i in range(sources))
    files = {}
    for i in range(sources):
        files[f"data/s{i}/part.csv"] = "id,amount,label,day\n" + "".join(
            f"{n},{n * 0.5 + i},label_{n % 97},2026-{1 + n % 12:02d}-{1 + n % 28:02d}\n" for n in range(rows))
    warehouse = "warehouse: {type: ducklake, catalog: bench_lake, data_path: data/lake}\n" if lake else ""
    return make_small_project(root, f'version: "1.0"\n{warehouse}defaults: {{retries: 0}}\nsources:\n' + entries, files)


def _trigger(deployment, dag_id: str) -> None:
    from tests.conftest import BIN, run

    run([str(BIN / "airflow"), "dags", "trigger", dag_id, "--conf", json.dumps({"full_refresh": True})],
        deployment.env)


def _runs(deployment, dag_ids: list[str]) -> list[tuple]:
    placeholders = ",".join("?" for _ in dag_ids)
    return deployment.query(
        f"select dag_id, state, start_date, end_date from dag_run where dag_id in ({placeholders}) order by start_date",
        *dag_ids)


def _wait_done(deployment, dag_ids: list[str], expected_runs: int) -> list[tuple]:
    from tests.deployment import wait_for

    def done():
        runs = _runs(deployment, dag_ids)
        failed = [r for r in runs if r[1] == "failed"]
        if failed:
            raise SystemExit(f"failed runs: {failed}")
        return len([r for r in runs if r[1] == "success"]) >= expected_runs

    wait_for(done, 1800, f"{expected_runs} successful runs", interval=1)
    return _runs(deployment, dag_ids)


def _seconds(start, end) -> float:
    return (end - start).total_seconds()


def measure(sources: int, rows: int, lake: bool, slots: int, celery_workers: int = 0) -> dict:
    """One configuration in a fresh deployment: single-source run times, the makespan of all at once,
    overlapping pool tasks and lock errors."""
    from contextlib import nullcontext

    from tests import pg
    from tests.conftest import BIN, run
    from tests.deployment import Deployment, wait_for

    with tempfile.TemporaryDirectory(prefix="dango_bench_concurrent_") as tmp, \
            (pg.temporary_database("dango_bench_lake") if lake else nullcontext()) as database:
        tmp_path = Path(tmp)
        project = _project(tmp_path / "project", sources, rows, lake)
        deployment = Deployment(tmp_path, project, "postgres",
                                executor="CeleryExecutor" if celery_workers else "LocalExecutor")
        deployment.env["AIRFLOW__DANGO__POOL_SLOTS"] = str(slots)
        if lake:
            deployment.env["AIRFLOW_CONN_BENCH_LAKE"] = pg.url(database)
        elif celery_workers:
            deployment.env["AIRFLOW__DANGO__DUCKDB_QUEUE"] = "duckdb_file"
        dag_ids = [f"dango_ingest__s{i}" for i in range(sources)]
        try:
            deployment.start_all()
            for n in range(celery_workers):
                deployment.start_worker(f"w{n}", ("default",) if lake or n else ("default", "duckdb_file"))
            wait_for(lambda: len(deployment.query("select dag_id from dag where dag_id like 'dango_%'"))
                     == sources + 1, 300, "the DAG processor to parse the DAGs")
            run([str(BIN / "airflow"), "dags", "pause", "dango_transform"], deployment.env)
            for dag_id in dag_ids:  # warm-up: first load of every source (tables and pipelines exist)
                _trigger(deployment, dag_id)
            _wait_done(deployment, dag_ids, sources)

            single = []
            for n, dag_id in enumerate(dag_ids, start=1):
                _trigger(deployment, dag_id)
                runs = _wait_done(deployment, dag_ids, sources + n)
                last = [r for r in runs if r[0] == dag_id][-1]
                single.append(_seconds(last[2], last[3]))
            started = len(_runs(deployment, dag_ids))
            for dag_id in dag_ids:
                _trigger(deployment, dag_id)
            runs = _wait_done(deployment, dag_ids, started + sources)[started:]
            first_start = min(r[2] for r in runs)
            makespan = _seconds(first_start, max(r[3] for r in runs))
            pool = deployment.query(
                "select start_date, end_date from task_instance where pool = 'dango_duckdb' and state = 'success' "
                "and start_date >= ? order by start_date", first_start)
            overlaps = sum(1 for i, a in enumerate(pool) for b in pool[i + 1:] if a[0] < b[1] and b[0] < a[1])
            lock_errors = deployment.task_logs().count("Could not set lock")
        finally:
            deployment.stop()
    return {"single": single, "makespan": makespan, "pool_tasks": len(pool), "overlaps": overlaps,
            "lock_errors": lock_errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--warehouse", choices=("both", "duckdb", "ducklake"), default="both")
    parser.add_argument("--slots", default="1,2,4", help="pool slots of the DuckLake runs, comma-separated")
    parser.add_argument("--celery-workers", type=int, default=0, help="CeleryExecutor with this many workers")
    parser.add_argument("--cold-imports", action="store_true")
    args = parser.parse_args()
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code

    print(f"# concurrent ingest: {args.sources} csv sources x {args.rows:,} rows; {versions()}; {code_version()}")
    print(f"# {import_mode()}; " + (f"CeleryExecutor, {args.celery_workers} workers" if args.celery_workers
                                     else "LocalExecutor"))
    configs = [("duckdb file", False, 1)] if args.warehouse in ("both", "duckdb") else []
    if args.warehouse in ("both", "ducklake"):
        configs += [(f"ducklake, pool {n}", True, n) for n in (int(x) for x in args.slots.split(","))]
    results = []
    for label, lake, slots in configs:
        result = measure(args.sources, args.rows, lake, slots, args.celery_workers)
        results.append((label, result))
        total = sum(result["single"])
        print(f"{label}: one at a time {', '.join(f'{s:.1f}s' for s in result['single'])} (sum {total:.1f}s); "
              f"all at once: makespan {result['makespan']:.1f}s, makespan/sum {result['makespan'] / total:.2f}; "
              f"pool tasks {result['pool_tasks']}, overlapping pairs {result['overlaps']}, "
              f"'Could not set lock' {result['lock_errors']}; "
              f"{3600 * args.sources / result['makespan'] / max(args.celery_workers, 1):.0f} source runs per hour "
              f"per {'worker' if args.celery_workers else 'machine'}", flush=True)
    baseline = next((r for label, r in results if label == "duckdb file"), None)
    if baseline:
        print("makespan against the DuckDB file's: " + "; ".join(
            f"{label} {r['makespan'] / baseline['makespan']:.2f}x" for label, r in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
