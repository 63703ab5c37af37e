"""docker-compose.yaml's scheduling settings (decision 0022) against Airflow's defaults, side by side:

- time to data: ``end_to_end.our_scheduler_round`` (the same generated CSV, fresh project and deployment
  each round, rounds interleaved): trigger to publish and the no-op re-sync, once with
  ``[scheduler] scheduler_idle_sleep_time`` 0.2 s and ``[workers] min_heartbeat_interval`` 1 s, once with
  Airflow's 1 s and 5 s;
- what they cost while nothing runs: CPU time of the scheduler's process tree (the scheduler, its
  LocalExecutor workers, its log server), the api-server and the DAG processor over ``--idle-seconds``,
  read from /proc, each deployment left to settle 20 s first.

Prints each round and the medians; asserts nothing.

    python bench/scheduling.py [--rows N] [--repeat N] [--idle-seconds N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _running_airflow as ra  # noqa: E402
import end_to_end  # noqa: E402
from _benchutil import banner, reexec_isolated, stats  # noqa: E402

VARIANTS = {"compose settings": False, "Airflow defaults": True}  # name: airflow_defaults


def cpu_seconds(session: int) -> float:
    """User and system CPU seconds of every live process in ``session`` (a component and what it started)."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[3]) == session:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def idle_cpu(work: Path, data: Path, airflow_defaults: bool, seconds: float) -> dict[str, float]:
    """Per component, the share of one core it used while nothing ran."""
    root = work / f"idle_{time.monotonic_ns()}"
    project = root / "project"
    end_to_end.our_project(project, data)
    with ra.running_airflow(root, project, ["dango_ingest__orders"], airflow_defaults=airflow_defaults) as dep:
        time.sleep(20)
        sessions = {name: proc.pid for name, proc in dep.procs.items()}  # each started in a session of its own
        before = {name: cpu_seconds(sid) for name, sid in sessions.items()}
        started = time.monotonic()
        time.sleep(seconds)
        took = time.monotonic() - started
        used = {name: (cpu_seconds(sid) - before[name]) / took for name, sid in sessions.items()}
    shutil.rmtree(root, ignore_errors=True)
    return used


def main() -> int:
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds (medians are reported)")
    parser.add_argument("--idle-seconds", type=float, default=60)
    args = parser.parse_args()
    banner(f"scheduling settings: docker-compose.yaml's vs Airflow's defaults ({args.rows:,}-row CSV, running scheduler)")
    work = Path(tempfile.mkdtemp(prefix="dango_bench_scheduling_"))
    try:
        data = work / "orders.csv"
        end_to_end.write_csv(data, args.rows)
        to_publish: dict[str, list[float]] = {name: [] for name in VARIANTS}
        noop: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for round_ in range(args.repeat):
            for name, defaults in VARIANTS.items():
                print(f"   round {round_ + 1}, {name}:", flush=True)
                published, resync, triggered = end_to_end.our_scheduler_round(work, data, airflow_defaults=defaults)
                to_publish[name].append(published)
                noop[name].append(resync)
                print(f"   round {round_ + 1}, {name}: trigger to publish {published:.1f} s, no-op re-sync {resync:.1f} s"
                      f" ({'triggered a transform' if triggered else 'no transform triggered'})", flush=True)
        for name, defaults in VARIANTS.items():
            used = idle_cpu(work, data, defaults, args.idle_seconds)
            print(f"   idle {args.idle_seconds:.0f} s, {name}: " +
                  ", ".join(f"{component} {share * 100:.1f}% of a core" for component, share in used.items()), flush=True)
        for name in VARIANTS:
            best_p, median_p = stats(to_publish[name])
            best_n, median_n = stats(noop[name])
            print(f"{name + ':':18} trigger to publish median {median_p:.1f} s (best {best_p:.1f} s), "
                  f"no-op re-sync median {median_n:.1f} s (best {best_n:.1f} s)")
        ours, theirs = (stats(to_publish[name])[1] for name in VARIANTS)
        print(f"ratio (compose settings / Airflow defaults, trigger to publish): {ours / theirs:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
