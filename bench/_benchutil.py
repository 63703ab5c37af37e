"""Shared helpers of the bench scripts (not a benchmark itself).

Byte-code cache: this machine's shell sets PYTHONDONTWRITEBYTECODE=1 and the venv ships no .pyc
files, so every Python process compiles every module it imports from source (importing airflow +
dlt + cosmos costs ~6 s instead of ~2.7 s). A deployed Airflow has its .pyc files, so by default the
scripts re-run themselves with PYTHONPYCACHEPREFIX pointing at a temp dir (deleted at the end) and
writing allowed; the first import of each module still compiles, later processes read the cache.
``--cold-imports`` keeps the byte-code setting as it is (no cache: every process compiles).
The re-run also gets a temp AIRFLOW_HOME, so nothing is written to ~/airflow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_MARK = "DANGO_BENCH_SCRATCH"


def reexec_isolated(argv: list[str]) -> int | None:
    """Re-run this script once in an isolated environment; return its exit code (None: we are the re-run).

    The re-run gets a temp AIRFLOW_HOME (importing airflow, which dlt does on its own, would otherwise
    create ~/airflow/airflow.db), a temp Cosmos cache dir (default /tmp/cosmos, shared) and, unless
    --cold-imports, a temp byte-code cache with writing allowed. All are deleted at the end.
    """
    if _MARK in os.environ or "--child" in argv:
        return None
    scratch = tempfile.mkdtemp(prefix="dango_bench_env_")
    env = dict(os.environ, AIRFLOW_HOME=os.path.join(scratch, "airflow_home"),
               AIRFLOW__COSMOS__CACHE_DIR=os.path.join(scratch, "cosmos_cache"), **{_MARK: scratch})
    env.pop("AIRFLOW__CORE__DAGS_FOLDER", None)
    env.pop("AIRFLOW__DANGO__PROJECT_DIR", None)
    if "--cold-imports" not in argv:
        env["PYTHONPYCACHEPREFIX"] = os.path.join(scratch, "pycache")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        return subprocess.call([sys.executable, *argv], env=env, cwd=str(REPO))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def import_mode() -> str:
    if os.environ.get("PYTHONPYCACHEPREFIX", "").startswith(os.environ.get(_MARK, "\0")):
        return "byte-code cache on (temp PYTHONPYCACHEPREFIX; see bench/_benchutil.py)"
    return ("cold imports: no byte-code cache, every process compiles what it imports"
            if os.environ.get("PYTHONDONTWRITEBYTECODE") else "default byte-code cache")


def rss_mb_now() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def versions() -> str:
    import importlib.metadata as md

    parts = [f"python {sys.version.split()[0]}"]
    for dist in ("apache-airflow-core", "dlt", "duckdb", "astronomer-cosmos", "dbt-core"):
        try:
            parts.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    return ", ".join(parts)


def code_version() -> str:
    """HEAD and how many files under dango_provider/ differ from it (read-only git commands)."""
    try:
        head = subprocess.run(["git", "--no-optional-locks", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--", "dango_provider"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"HEAD {head or '?'}" + (f", {len(dirty)} file(s) under dango_provider/ changed since" if dirty else "")


def banner(name: str) -> None:
    print(f"== {name}  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  cpus {os.cpu_count()}")
    print(f"   dango-provider {code_version()}; {versions()}")
    print(f"   imports: {import_mode()}; AIRFLOW_HOME {os.environ.get('AIRFLOW_HOME', '~/airflow')}")
    load = os.getloadavg()
    print(f"   load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
          + (f"  WARNING: the machine is busy ({load[0]:.1f} runnable on {os.cpu_count()} cpus): times are inflated"
             if load[0] > (os.cpu_count() or 1) else ""))


def make_project(directory: Path, sources_yml: str) -> Path:
    """``init_project`` a fresh project in ``directory`` and replace its sources.yml."""
    from dango_provider.scaffold.init import init_project

    init_project(directory)
    (directory / "sources.yml").write_text(sources_yml, encoding="utf-8")
    return directory


def csv_source_yml(name: str, directory: str, *, disposition: str | None = None, primary_key: str | None = None,
                   schedule: str | None = None) -> str:
    lines = [f"  - name: {name}", "    type: csv"]
    if primary_key:
        lines.append(f"    primary_key: {primary_key}")
    if disposition:
        lines.append(f"    write_disposition: {disposition}")
    if schedule:
        lines.append(f"    schedule: \"{schedule}\"")
    lines += ["    csv:", f"      directory: {directory}", "      file_pattern: \"*.csv\""]
    return "\n".join(lines) + "\n"


def sources_file(sources: list[str]) -> str:
    return (
        "version: \"1.0\"\n"
        "warehouse:\n  type: duckdb\n  path: data/warehouse.duckdb\n"
        "dbt:\n  project_dir: dbt\n"
        "defaults:\n  schedule: null\n  start_date: 2024-01-01\n  retries: 0\n"
        "sources:\n" + "".join(sources)
    )


def timed_sync(root: Path, source_name: str) -> dict:
    """Extract and load one source of the project at ``root``: rows loaded and seconds (total, extract
    including normalize, load). The timer starts before ``load_project``."""
    from dango_provider.config.loader import load_project
    from dango_provider.hooks.warehouse import warehouse_for
    from dango_provider.sources.runner import extract_source, load_source

    started = time.perf_counter()
    project = load_project(root)
    source = project.source(source_name)
    warehouse = warehouse_for(project, lock_timeout=60)
    extracted = extract_source(project, source, warehouse)
    middle = time.perf_counter()
    loaded = load_source(project, source, warehouse, owner="bench", extracted=extracted.__dict__)
    ended = time.perf_counter()
    return {"rows": sum(loaded.row_counts.values()), "seconds": ended - started, "extract": middle - started,
            "load": ended - middle}


def peak_rss_mb_self() -> float:
    """Peak RSS of this process image (VmHWM), in MiB.

    Not ``ru_maxrss``: on Linux a child's ``ru_maxrss`` (``RUSAGE_SELF`` in the child, or ``wait4`` /
    ``RUSAGE_CHILDREN`` in the parent) starts from the RSS the parent had when it forked, because exec
    carries the old image's high-water mark over. A 500 MB parent makes ``python -c pass`` report 513 MB.
    VmHWM belongs to the image exec created, so it is the child's own peak.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class TreeRssSampler:
    """Samples the RSS summed over a process and its descendants every ``period`` s (psutil); keeps the max.

    Used for commands we do not control (``airflow ...``); a sample can miss a peak shorter than the period.
    """

    def __init__(self, pid: int, period: float = 0.05):
        import threading

        self.pid, self.period, self.peak_mb = pid, period, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            total = 0
            try:
                for proc in [root, *root.children(recursive=True)]:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self.period)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def run_logged(cmd: list[str], log_path: Path, *, env: dict | None = None, cwd: Path | None = None):
    """Run ``cmd`` with output to ``log_path``; return (exit code, sampled peak RSS MiB of its tree, wall s)."""
    started = time.perf_counter()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(cwd or REPO))
        sampler = TreeRssSampler(proc.pid)
        code = proc.wait()
    wall = time.perf_counter() - started
    return code, sampler.stop(), wall


class quiet_fds:
    """Send fd 1 and 2 (dlt progress lines, warnings) to ``path`` for the duration of a with block."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = os.dup(1), os.dup(2)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        return self

    def __exit__(self, *exc):
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        os.close(self._saved[0])
        os.close(self._saved[1])
        return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stats(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return ordered[0], median


def timed_call(cmd: list[str], env: dict, log: Path, cwd: Path = REPO) -> float:
    """Wall seconds of ``cmd`` (output appended to ``log``); exits naming the log when it fails."""
    started = time.perf_counter()
    with open(log, "ab") as out:
        code = subprocess.call(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(cwd))
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {code}; see {log}")
    return time.perf_counter() - started
