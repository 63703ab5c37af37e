"""The demo's dbt project after its ingests: ``dango_transform`` against a plain ``dbt build`` of the same
project on the same warehouse, rounds interleaved, in two phases:

1. ``airflow dags test dango_transform`` (wall time, and from its start to ``dbt_build``'s end: it
   publishes what it built) against the plain build;
2. unless ``--no-scheduler``, under a running Airflow (api-server, DAG processor, LocalExecutor scheduler
   on SQLite, see _running_airflow.py) once it has rendered the models as tasks: ``airflow dags trigger
   dango_transform``, timed from the run's ``queued_at`` to ``dbt_build``'s end (the warehouse built and
   published) and to the run's last task, against the plain build again, measured while that
   Airflow idles beside it.

Prints the time of each and the ratios (target: dango_transform <= 1.5x the plain build); asserts
nothing. The plain build is dbt's own CLI with the project's profile, run in the project directory, so
both build the same 9 models, 49 tests, the seed and the snapshot.

Also timed, as a reference line: the same plain ``dbt build`` as the one task of a DAG of its own
(``plain_dbt_build``, a BashOperator), the least any Airflow wiring of this project costs. Its ratio to the
plain build is Airflow's share; ``dango_transform``'s ratio to it is what the provider adds on top.

    python bench/transform.py [--repeat N] [--no-scheduler]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _running_airflow as ra  # noqa: E402
from _benchutil import banner, reexec_isolated, stats  # noqa: E402
from _benchutil import timed_call as run  # noqa: E402

BIN = Path(sys.executable).parent
SOURCES = ("customers", "products", "orders", "order_lines")
TRANSFORM = "dango_transform"
PLAIN_DAG = "plain_dbt_build"
PLAIN_DAG_FILE = '''\
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG(dag_id="plain_dbt_build", schedule=None, catchup=False):
    BashOperator(task_id="dbt_build", bash_command={command!r}, env={env!r}, append_env=True)
'''


def write_plain_dag(project: Path, plain_cmd: list[str], dbt_env: dict) -> None:
    """The plain build as the one task of a DAG in the project's DAG folder."""
    import shlex

    env = {k: dbt_env[k] for k in ("DANGO_WAREHOUSE_PATH", "DBT_SEND_ANONYMOUS_USAGE_STATS")}
    (project / "dags" / "plain_dbt_build.py").write_text(
        PLAIN_DAG_FILE.format(command=shlex.join(plain_cmd), env=env))


def dags_test_to_publish(started: datetime) -> float:
    """Seconds from ``started`` (an ``airflow dags test`` command's start) to the end of the last
    ``dbt_build`` (which publishes) in the metadata database of this run's AIRFLOW_HOME."""
    import sqlite3

    con = sqlite3.connect(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db")
    try:
        (end,) = con.execute("select max(end_date) from task_instance where dag_id = ? and task_id = "
                             "'dbt_build'", (TRANSFORM,)).fetchone()
    finally:
        con.close()
    ended = datetime.fromisoformat(str(end))
    return (ended.replace(tzinfo=ended.tzinfo or UTC) - started).total_seconds()


def rendered(deployment) -> bool:
    """The DAG processor has re-parsed dango_transform with its model tasks (after the first manifest)."""
    rows = deployment.query("select data from serialized_dag where dag_id = 'dango_transform'")
    return any("fct_daily_sales" in str(data) for (data,) in rows)


def scheduler_phase(work: Path, project: Path, plain_cmd: list[str], dbt_env: dict, log: Path,
                    repeat: int) -> None:
    from tests.deployment import wait_for

    dag_ids = [TRANSFORM, PLAIN_DAG, *(f"dango_ingest__{s}" for s in SOURCES)]
    with ra.running_airflow(work / "scheduler", project, dag_ids) as dep:
        wait_for(lambda: rendered(dep), 300, "dango_transform rendered with its models", interval=2)
        ours, last, plain, one_task = [], [], [], []
        for round_ in range(repeat):
            wait_for(lambda: not dep.query("select 1 from dag_run where state in ('queued', 'running')"), 900,
                     "no run in flight", interval=1)
            run_id = ra.trigger(dep, TRANSFORM)
            ra.wait_run(dep, TRANSFORM, run_id)
            start = ra.queued_at(dep, TRANSFORM, run_id)
            ours.append((ra.last_task_end(dep, TRANSFORM, run_id, "dbt_build") - start).total_seconds())
            last.append((ra.last_task_end(dep, TRANSFORM, run_id) - start).total_seconds())
            plain.append(run(plain_cmd, dbt_env, log))
            plain_run = ra.trigger(dep, PLAIN_DAG)
            ra.wait_run(dep, PLAIN_DAG, plain_run)
            one_task.append((ra.last_task_end(dep, PLAIN_DAG, plain_run)
                             - ra.queued_at(dep, PLAIN_DAG, plain_run)).total_seconds())
            print("     " + ra.timeline(dep, TRANSFORM, run_id))
            print(f"   round {round_ + 1}: dango_transform (scheduler) to publish {ours[-1]:.1f} s, to its last "
                  f"task {last[-1]:.1f} s, dbt build {plain[-1]:.1f} s, as one Airflow task {one_task[-1]:.1f} s",
                  flush=True)
        (best_o, median_o), (best_l, median_l), (best_p, median_p) = stats(ours), stats(last), stats(plain)
        best_t, median_t = stats(one_task)
        print(f"dango_transform (scheduler, to publish):   median {median_o:.1f} s (best {best_o:.1f} s)")
        print(f"dango_transform (scheduler, to last task): median {median_l:.1f} s (best {best_l:.1f} s)")
        print(f"plain dbt build (beside it):               median {median_p:.1f} s (best {best_p:.1f} s)")
        print(f"plain dbt build as one Airflow task:       median {median_t:.1f} s (best {best_t:.1f} s)")
        print(f"ratio to publish: {median_o / median_p:.1f}x, to last task: {median_l / median_p:.1f}x "
              "(target <= 1.5x)")
        print(f"against the one-task DAG: Airflow's share {median_t / median_p:.1f}x; dango_transform to publish "
              f"{median_o / median_t:.1f}x of it")


def main() -> int:
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--cold-imports", action="store_true", help="no byte-code cache (see _benchutil.py)")
    parser.add_argument("--no-scheduler", action="store_true", help="leave out the running-scheduler phase")
    args = parser.parse_args()
    banner("transform: dango_transform (airflow dags test"
           f"{'' if args.no_scheduler else ', running scheduler'}) vs plain dbt build")
    work = Path(tempfile.mkdtemp(prefix="dango_bench_transform_"))
    try:
        project = work / "project"
        env = dict(os.environ, AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"),
                   AIRFLOW__DANGO__PROJECT_DIR=str(project))
        log = work / "bench.log"
        run([str(BIN / "airflow"), "db", "migrate"], env, log)
        run([str(BIN / "dango"), "init", str(project), "--demo", "--no-pool"], env, log)
        ingest = {s: run([str(BIN / "airflow"), "dags", "test", f"dango_ingest__{s}"], env, log) for s in SOURCES}
        print("   ingests (airflow dags test, s): " + ", ".join(f"{s} {t:.1f}" for s, t in ingest.items()))
        dbt_env = {**env, "DANGO_WAREHOUSE_PATH": str(project / "data" / "warehouse.duckdb"),
                   "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        dbt_dir = project / "dbt"
        plain_cmd = [str(BIN / "dbt"), "build", "--project-dir", str(dbt_dir), "--profiles-dir", str(dbt_dir)]
        write_plain_dag(project, plain_cmd, dbt_env)
        ours, to_publish, plain, one_task = [], [], [], []
        for round_ in range(args.repeat):
            started = datetime.now(UTC)
            ours.append(run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env, log))
            to_publish.append(dags_test_to_publish(started))
            plain.append(run(plain_cmd, dbt_env, log))
            one_task.append(run([str(BIN / "airflow"), "dags", "test", PLAIN_DAG], env, log))
            print(f"   round {round_ + 1}: dango_transform {ours[-1]:.1f} s (published after {to_publish[-1]:.1f} s), "
                  f"dbt build {plain[-1]:.1f} s, as one Airflow task {one_task[-1]:.1f} s", flush=True)
        best_ours, median_ours = stats(ours)
        median_publish = stats(to_publish)[1]
        best_plain, median_plain = stats(plain)
        best_one, median_one = stats(one_task)
        print(f"dango_transform (airflow dags test): median {median_ours:.1f} s (best {best_ours:.1f} s)")
        print(f"plain dbt build:                     median {median_plain:.1f} s (best {best_plain:.1f} s)")
        print(f"plain dbt build as one Airflow task: median {median_one:.1f} s (best {best_one:.1f} s)")
        print(f"ratio: {median_ours / median_plain:.1f}x (target <= 1.5x); Airflow's share {median_one / median_plain:.1f}x, "
              f"dango_transform {median_ours / median_one:.1f}x the one-task DAG", flush=True)
        print(f"to publish (the command's start to dbt_build's end): median {median_publish:.1f} s, "
              f"{median_publish / median_plain:.1f}x the plain build, {median_publish / median_one:.1f}x the one-task DAG",
              flush=True)
        if not args.no_scheduler:
            scheduler_phase(work, project, plain_cmd, dbt_env, log, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
