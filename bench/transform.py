"""The demo's dbt project after its ingests: ``dango_transform`` under ``airflow dags test`` against a plain
``dbt build`` of the same project on the same warehouse, rounds interleaved.

Prints the wall time of each and the ratio (target: dango_transform <= 1.5x the plain build); asserts
nothing. The plain build is dbt's own CLI with the project's profile, run in the project directory, so
both build the same 9 models, 49 tests, the seed and the snapshot.

    python bench/transform.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import banner, reexec_isolated, stats  # noqa: E402
from _benchutil import timed_call as run  # noqa: E402

BIN = Path(sys.executable).parent
SOURCES = ("customers", "products", "orders", "order_lines")


def main() -> int:
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--cold-imports", action="store_true", help="no byte-code cache (see _benchutil.py)")
    args = parser.parse_args()
    banner("transform: dango_transform (airflow dags test) vs plain dbt build")
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
        ours, plain = [], []
        for round_ in range(args.repeat):
            ours.append(run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env, log))
            plain.append(run(plain_cmd, dbt_env, log))
            print(f"   round {round_ + 1}: dango_transform {ours[-1]:.1f} s, dbt build {plain[-1]:.1f} s")
        best_ours, median_ours = stats(ours)
        best_plain, median_plain = stats(plain)
        print(f"dango_transform (airflow dags test): median {median_ours:.1f} s (best {best_ours:.1f} s)")
        print(f"plain dbt build:                     median {median_plain:.1f} s (best {best_plain:.1f} s)")
        print(f"ratio: {median_ours / median_plain:.1f}x (target <= 1.5x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
