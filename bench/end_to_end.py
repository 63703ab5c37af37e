"""Time to data for one 200,000-row CSV source on a fresh project, side by side, rounds interleaved:

- Dango 1.0.13's ``dango sync`` (load, staging generation, ``dbt run``, docs), in its own venv (installed by
  this script with uv, see tests/dango_compat/peer.py) on a project made by its own ``dango init``; its
  dbt profile's ``extensions`` (httpfs, parquet: downloads) removed so it runs offline;
- ours: ``airflow dags test dango_ingest__orders`` then ``airflow dags test dango_transform`` on a project
  made by our ``dango init``, until both return (the serving copy then holds the staging model).

Prints each round's wall times and the ratio of the medians (target: ours <= 1.0x Dango); asserts nothing.
Project set-up (``dango init``, Airflow's ``db migrate``) is not timed. The running-scheduler variant of
this comparison is not measured by this script.

    python bench/end_to_end.py [--rows N] [--repeat N]
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


def our_round(work: Path, data: Path, log: Path) -> float:
    project = work / f"ours_{time.monotonic_ns()}"
    env = dict(os.environ, AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"),
               AIRFLOW__DANGO__PROJECT_DIR=str(project))
    subprocess.run([str(BIN / "dango"), "init", str(project), "--no-pool"], env=env, check=True, capture_output=True)
    (project / "sources.yml").write_text(OURS)
    (project / "data" / "uploads" / "orders").mkdir(parents=True)
    shutil.copy(data, project / "data" / "uploads" / "orders" / data.name)
    seconds = timed([str(BIN / "airflow"), "dags", "test", "dango_ingest__orders"], env, log, REPO)
    seconds += timed([str(BIN / "airflow"), "dags", "test", "dango_transform"], env, log, REPO)
    shutil.rmtree(project, ignore_errors=True)
    return seconds


def main() -> int:
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--cold-imports", action="store_true", help="no byte-code cache (see _benchutil.py)")
    args = parser.parse_args()
    banner(f"end to end: {args.rows:,}-row CSV, Dango {peer.VERSION} `dango sync` vs ours (airflow dags test)")
    work = Path(tempfile.mkdtemp(prefix="dango_bench_e2e_"))
    try:
        data = work / "orders.csv"
        write_csv(data, args.rows)
        log = work / "bench.log"
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=dict(os.environ), check=True, capture_output=True)
        peer.dango_venv()
        dango, ours = [], []
        for round_ in range(args.repeat):
            dango.append(dango_round(work, data, log))
            ours.append(our_round(work, data, log))
            print(f"   round {round_ + 1}: dango sync {dango[-1]:.1f} s, ours {ours[-1]:.1f} s")
        best_d, median_d = stats(dango)
        best_o, median_o = stats(ours)
        print(f"Dango `dango sync`:                     median {median_d:.1f} s (best {best_d:.1f} s)")
        print(f"ours (ingest + transform, dags test):   median {median_o:.1f} s (best {best_o:.1f} s)")
        print(f"ratio: {median_o / median_d:.2f}x (target <= 1.0x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
