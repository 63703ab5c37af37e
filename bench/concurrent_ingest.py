"""Several sources ingesting at once under a real scheduler vs the same sources one at a time.

A real deployment (PostgreSQL metadata database, LocalExecutor, parallelism 8: api-server, DAG
processor and scheduler) runs N csv sources. After a warm-up load of each, every source is reloaded
with ``--conf '{"full_refresh": true}'``:

1. one at a time: trigger, wait for success, next (baseline: the sum of the single-source run times);
2. all at once: trigger every source, wait for all (the makespan: first start to last end).

Extraction runs outside the ``dango_duckdb`` pool, so only the writes queue; the script prints the
ratio makespan / sum and checks from Airflow's task records that no two pool tasks overlapped.
``dango_transform`` is paused so that only ingest runs are measured.

    python bench/concurrent_ingest.py [--sources 4] [--rows 300000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._benchutil import code_version, import_mode, reexec_isolated, versions  # noqa: E402


def _project(root: Path, sources: int, rows: int) -> Path:
    from tests.conftest import make_small_project

    entries = "".join(f"  - name: s{i}\n    type: csv\n    primary_key: id\n    csv: {{directory: data/s{i}}}\n"
                      for i in range(sources))
    files = {}
    for i in range(sources):
        files[f"data/s{i}/part.csv"] = "id,amount,label,day\n" + "".join(
            f"{n},{n * 0.5 + i},label_{n % 97},2026-{1 + n % 12:02d}-{1 + n % 28:02d}\n" for n in range(rows))
    return make_small_project(root, 'version: "1.0"\ndefaults: {retries: 0}\nsources:\n' + entries, files)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--cold-imports", action="store_true")
    args = parser.parse_args()
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code

    from tests.deployment import Deployment, wait_for

    print(f"# concurrent ingest: {args.sources} csv sources x {args.rows:,} rows; {versions()}; {code_version()}")
    print(f"# {import_mode()}")
    with tempfile.TemporaryDirectory(prefix="dango_bench_concurrent_") as tmp:
        tmp_path = Path(tmp)
        project = _project(tmp_path / "project", args.sources, args.rows)
        deployment = Deployment(tmp_path, project, "postgres")
        dag_ids = [f"dango_ingest__s{i}" for i in range(args.sources)]
        try:
            deployment.start_all()
            wait_for(lambda: len(deployment.query("select dag_id from dag where dag_id like 'dango_%'"))
                     == args.sources + 1, 300, "the DAG processor to parse the DAGs")
            from tests.conftest import BIN, run

            run([str(BIN / "airflow"), "dags", "pause", "dango_transform"], deployment.env)
            for dag_id in dag_ids:  # warm-up: first load of every source (tables and pipelines exist)
                _trigger(deployment, dag_id)
            _wait_done(deployment, dag_ids, args.sources)

            single = []
            for n, dag_id in enumerate(dag_ids, start=1):
                _trigger(deployment, dag_id)
                runs = _wait_done(deployment, dag_ids, args.sources + n)
                last = [r for r in runs if r[0] == dag_id][-1]
                single.append(_seconds(last[2], last[3]))
            started = len(_runs(deployment, dag_ids))
            for dag_id in dag_ids:
                _trigger(deployment, dag_id)
            runs = _wait_done(deployment, dag_ids, started + args.sources)[started:]
            makespan = _seconds(min(r[2] for r in runs), max(r[3] for r in runs))
            pool = deployment.query(
                "select start_date, end_date from task_instance where pool = 'dango_duckdb' and state = 'success' "
                "order by start_date")
            overlaps = sum(1 for a, b in zip(pool, pool[1:]) if a[1] > b[0])
            lock_errors = deployment.task_logs().count("Could not set lock")
        finally:
            deployment.stop()

    total = sum(single)
    print(f"one at a time: {', '.join(f'{s:.1f}s' for s in single)}; sum {total:.1f}s")
    print(f"all at once: makespan {makespan:.1f}s")
    print(f"ratio makespan/sum: {makespan / total:.2f}  (target: clearly below 1.0)")
    print(f"pool tasks: {len(pool)}, overlapping pairs: {overlaps}; 'Could not set lock' in task logs: {lock_errors}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
