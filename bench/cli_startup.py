"""CLI start-up: wall time of each ``dango`` command a terminal user types often, on the demo project,
side by side with two baselines run in the same rounds: the bare interpreter (``python -c pass``) and
``airflow version`` (Airflow's own CLI).

Each command runs ``--repeat`` times, rounds interleaved; prints the median and best, the margin over
the bare interpreter and the ratio to ``airflow version``. Target: every dango command under 1 s on a
quiet machine. ``dango run --help`` stands for ``dango run`` up to its first Airflow call (the run
itself waits for the scheduler). Asserts nothing.

    python bench/cli_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchutil import banner, reexec_isolated, stats  # noqa: E402

BIN = Path(sys.executable).parent
TARGET_S = 1.0


def commands(project: Path) -> dict[str, list[str]]:
    dango = str(BIN / "dango")
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "airflow version": [str(BIN / "airflow"), "version"],
        "dango --help": [dango, "--help"],
        "dango validate": [dango, "validate", str(project)],
        "dango status": [dango, "status", "--project", str(project)],
        "dango source list": [dango, "source", "list", "--project", str(project)],
        "dango run --help": [dango, "run", "--help"],
    }


def wall(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return seconds


def main() -> int:
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds (medians are reported)")
    parser.add_argument("--cold-imports", action="store_true", help="no byte-code cache (see _benchutil.py)")
    args = parser.parse_args()
    banner("CLI start-up: dango commands vs python -c pass and airflow version")
    work = Path(tempfile.mkdtemp(prefix="dango_bench_cli_"))
    try:
        project = work / "project"
        env = dict(os.environ, AIRFLOW__CORE__LOAD_EXAMPLES="False")
        subprocess.run([str(BIN / "dango"), "init", str(project), "--demo", "--no-pool"], env=env, check=True,
                       capture_output=True)
        cmds = commands(project)
        for cmd in cmds.values():  # first run writes the byte-code cache: not counted
            wall(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                times[name].append(wall(cmd, env))
        _, python = stats(times["python -c pass"])
        _, airflow = stats(times["airflow version"])
        print(f"{'command':<20} {'median':>8} {'best':>8} {'over python':>12} {'x airflow':>10}")
        for name, values in times.items():
            best, median = stats(values)
            mark = "" if name in ("python -c pass", "airflow version") else \
                ("  ok" if median < TARGET_S else f"  over the {TARGET_S:.0f} s target")
            print(f"{name:<20} {median:>7.2f}s {best:>7.2f}s {median - python:>11.2f}s {median / airflow:>9.2f}x{mark}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
