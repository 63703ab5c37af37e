"""Time to data for one 200,000-row CSV source on a fresh project, side by side, rounds interleaved:

- Dango 1.0.13's ``dango sync`` (load, staging generation, ``dbt run``, docs), in its own venv (installed by
  this script with uv, see tests/dango_compat/peer.py) on a project made by its own ``dango init``; its
  dbt profile's ``extensions`` (httpfs, parquet: downloads) removed so it runs offline;
- ours: ``airflow dags test dango_ingest__orders`` then ``airflow dags test dango_transform`` on a project
  made by our ``dango init``, until both return (the serving copy then holds the staging model);
- ours, the same two DAG runs in one process (``scripts/dags_test.py``, as README's demo runs them): each is
  Airflow's own ``dags test`` command, the process start and the in-process execution API's set-up (its
  Cadwyn versioned app, about 3 s) paid once instead of twice;
- ours under a running Airflow (api-server, DAG processor, LocalExecutor scheduler on SQLite, see
  _running_airflow.py): ``airflow dags trigger dango_ingest__orders``, the asset-triggered
  ``dango_transform`` follows; timed from the ingest run's ``queued_at`` to ``dbt_build``'s end (it publishes
  what it built).
  Then a no-op re-sync (file unchanged) in the same deployment: trigger to its last task's end, and
  whether a transform was triggered (it should not be).

Prints each round's times and the ratios of the medians (targets: ours <= 1.0x Dango under ``airflow
dags test``, <= 0.5x under a running scheduler; no-op re-sync <= 5 s); asserts nothing. Project and
deployment set-up (``dango init``, ``db migrate``, starting Airflow, parsing, the api-server's first
execution-API request and first task, see _running_airflow.warm_execution_api and first_task) are not
timed. The deployment has docker-compose.yaml's scheduling settings (decision 0022); bench/scheduling.py
sets them against Airflow's defaults.

    python bench/end_to_end.py [--rows N] [--repeat N] [--no-scheduler]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _running_airflow as ra  # noqa: E402
from _benchutil import REPO, banner, reexec_isolated, stats  # noqa: E402
from _benchutil import timed_call as timed  # noqa: E402

sys.path.insert(0, str(REPO))
from tests.dango_compat import peer  # noqa: E402

BIN = Path(sys.executable).parent
ADD_SOURCE = """
import sys
from pathlib import Path
from dango.config.loader import ConfigLoader
from dango.config.models import DataSource, SourcesConfig
from dango.ingestion.sources.setup_service import build_source_config
loader = ConfigLoader(Path(sys.argv[1]))
entry = build_source_config("csv", "orders", {"directory": "data/uploads/orders", "file_pattern": "*.csv"})
loader.save_sources_config(SourcesConfig(sources=[DataSource(**entry)]))
"""
OURS = """\
version: "1.0"
defaults: {retries: 0}
sources:
  - name: orders
    type: csv
    primary_key: order_id
    csv: {directory: data/uploads/orders, file_pattern: "*.csv"}
"""


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(7)
    start = datetime(2024, 1, 1)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "customer_id", "amount", "status", "created_at"])
        for i in range(rows):
            out.writerow([i, rng.randint(1, 5000), f"{rng.random() * 500:.2f}",
                          rng.choice(("placed", "shipped", "cancelled")), (start + timedelta(minutes=i)).isoformat()])


def dango_round(work: Path, data: Path, log: Path) -> float:
    root = work / f"dango_{time.monotonic_ns()}"
    root.mkdir()
    peer.run_dango("init", "shop", "--skip-wizard", cwd=root)
    project = root / "shop"
    profile = project / "dbt" / "profiles.yml"
    profile.write_text(re.sub(r"\n\s*extensions:\n(\s*- \w+\n)+", "\n", profile.read_text()))
    peer.run_python(ADD_SOURCE, root, str(project))
    (project / "data" / "uploads" / "orders").mkdir(parents=True)
    shutil.copy(data, project / "data" / "uploads" / "orders" / data.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))}
    seconds = timed([str(peer.dango_venv() / "bin" / "dango"), "sync"], {**env, **peer.OFFLINE_ENV}, log, project)
    shutil.rmtree(root, ignore_errors=True)
    return seconds


def our_project(project: Path, data: Path) -> dict:
    env = dict(os.environ, AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"),
               AIRFLOW__DANGO__PROJECT_DIR=str(project))
    subprocess.run([str(BIN / "dango"), "init", str(project), "--no-pool"], env=env, check=True, capture_output=True)
    (project / "sources.yml").write_text(OURS)
    (project / "data" / "uploads" / "orders").mkdir(parents=True)
    shutil.copy(data, project / "data" / "uploads" / "orders" / data.name)
    return env


def our_round(work: Path, data: Path, log: Path) -> float:
    project = work / f"ours_{time.monotonic_ns()}"
    env = our_project(project, data)
    seconds = timed([str(BIN / "airflow"), "dags", "test", "dango_ingest__orders"], env, log, REPO)
    seconds += timed([str(BIN / "airflow"), "dags", "test", "dango_transform"], env, log, REPO)
    shutil.rmtree(project, ignore_errors=True)
    return seconds


def our_one_process_round(work: Path, data: Path, log: Path) -> float:
    project = work / f"ours1_{time.monotonic_ns()}"
    env = our_project(project, data)
    seconds = timed([str(BIN / "python"), str(REPO / "scripts" / "dags_test.py"), "dango_ingest__orders",
                     "dango_transform"], env, log, REPO)
    shutil.rmtree(project, ignore_errors=True)
    return seconds


def our_scheduler_round(work: Path, data: Path, airflow_defaults: bool = False) -> tuple[float, float, bool]:
    """(trigger to publish, no-op re-sync trigger to done, whether the no-op triggered a transform)."""
    root = work / f"sched_{time.monotonic_ns()}"
    project = root / "project"
    our_project(project, data)
    ingest, transform = "dango_ingest__orders", "dango_transform"
    with ra.running_airflow(root, project, [ingest, transform], airflow_defaults=airflow_defaults) as deployment:
        print(f"     (set-up) a {transform} run before any load (nothing to build: it skips): "
              f"{ra.first_task(deployment, transform):.1f} s", flush=True)
        before = ra.run_ids(deployment, transform)
        run_id = ra.trigger(deployment, ingest)
        ra.wait_run(deployment, ingest, run_id)
        transform_run = ra.wait_new_run(deployment, transform, before)
        ra.wait_run(deployment, transform, transform_run)
        to_publish = ra.last_task_end(deployment, transform, transform_run, "dbt_build") - \
            ra.queued_at(deployment, ingest, run_id)
        print("     " + ra.timeline(deployment, ingest, run_id))
        print("     " + ra.timeline(deployment, transform, transform_run))
        before = ra.run_ids(deployment, transform)
        noop_run = ra.trigger(deployment, ingest)
        ra.wait_run(deployment, ingest, noop_run)
        noop = ra.last_task_end(deployment, ingest, noop_run) - ra.queued_at(deployment, ingest, noop_run)
        print("     no-op " + ra.timeline(deployment, ingest, noop_run))
        if ra.task_states(deployment, ingest, noop_run).get("extract") != "skipped":
            raise SystemExit(f"the no-op re-sync's extract did not skip: {ra.task_states(deployment, ingest, noop_run)}")
        time.sleep(15)  # an asset-triggered transform would be queued by now
        triggered = ra.run_ids(deployment, transform) != before
    shutil.rmtree(root, ignore_errors=True)
    return to_publish.total_seconds(), noop.total_seconds(), triggered


def main() -> int:
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--cold-imports", action="store_true", help="no byte-code cache (see _benchutil.py)")
    parser.add_argument("--no-scheduler", action="store_true", help="leave out the running-scheduler variant")
    args = parser.parse_args()
    banner(f"end to end: {args.rows:,}-row CSV, Dango {peer.VERSION} `dango sync` vs ours (airflow dags test"
           f"{'' if args.no_scheduler else ', running scheduler'})")
    work = Path(tempfile.mkdtemp(prefix="dango_bench_e2e_"))
    try:
        data = work / "orders.csv"
        write_csv(data, args.rows)
        log = work / "bench.log"
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=dict(os.environ), check=True, capture_output=True)
        peer.dango_venv()
        dango, ours, one, sched, noop = [], [], [], [], []
        for round_ in range(args.repeat):
            dango.append(dango_round(work, data, log))
            ours.append(our_round(work, data, log))
            one.append(our_one_process_round(work, data, log))
            line = (f"   round {round_ + 1}: dango sync {dango[-1]:.1f} s, ours (dags test) {ours[-1]:.1f} s, "
                    f"ours (both in one process) {one[-1]:.1f} s")
            if not args.no_scheduler:
                to_publish, noop_s, triggered = our_scheduler_round(work, data)
                sched.append(to_publish)
                noop.append(noop_s)
                line += (f", ours (scheduler, trigger to publish) {to_publish:.1f} s, no-op re-sync {noop_s:.1f} s"
                         f" ({'triggered a transform' if triggered else 'no transform triggered'})")
            print(line, flush=True)
        best_d, median_d = stats(dango)
        best_o, median_o = stats(ours)
        print(f"Dango `dango sync`:                     median {median_d:.1f} s (best {best_d:.1f} s)")
        print(f"ours (ingest + transform, dags test):   median {median_o:.1f} s (best {best_o:.1f} s)")
        print(f"ratio: {median_o / median_d:.2f}x (target <= 1.0x)")
        best_1, median_1 = stats(one)
        print(f"ours (both runs in one process):        median {median_1:.1f} s (best {best_1:.1f} s)")
        print(f"ratio: {median_1 / median_d:.2f}x")
        if sched:
            best_s, median_s = stats(sched)
            best_n, median_n = stats(noop)
            print(f"ours (running scheduler, to publish):   median {median_s:.1f} s (best {best_s:.1f} s)")
            print(f"ratio: {median_s / median_d:.2f}x (target <= 0.5x)")
            print(f"no-op re-sync (running scheduler):      median {median_n:.1f} s (best {best_n:.1f} s; target <= 5 s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
