"""Shared fixtures: a real Airflow home (SQLite) and helpers to run the real CLI commands."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def airflow_env(airflow_home: Path, project: Path | None = None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "SCARF_NO_ANALYTICS": "true",
        "DO_NOT_TRACK": "true",
    }
    if project is not None:
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(project / "dags")
        env["AIRFLOW__DANGO__PROJECT_DIR"] = str(project)
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], *, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return proc


def dags_test_in_one_process(dag_ids: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """``airflow dags test`` of each DAG, one after another in one process (``scripts/dags_test.py``, as
    README's demo runs them); fails at the first DAG run that fails."""
    return run([str(BIN / "python"), str(REPO / "scripts" / "dags_test.py"), *dag_ids], env)


def stop_group(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM ``process`` with every process it started; SIGKILL them if they are not gone after ``grace``
    seconds (an Airflow scheduler or api-server may wait on its children past any patience)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    reap_group(process, grace)


def reap_group(process: subprocess.Popen, grace: float = 30) -> None:
    """Wait up to ``grace`` seconds for ``process``, already sent SIGTERM; then SIGKILL its group."""
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    """An Airflow home with a migrated SQLite database, shared by the session's tests."""
    home = tmp_path_factory.mktemp("airflow_home")
    run([str(BIN / "airflow"), "db", "migrate"], airflow_env(home))
    return home


def make_demo_project(target: Path) -> Path:
    """A fresh copy of the demo project, scaffolded by the real `dango init --demo`."""
    run([str(BIN / "dango"), "init", str(target), "--demo", "--no-pool"], dict(os.environ))
    text = (target / "sources.yml").read_text()
    (target / "sources.yml").write_text(text.replace("retries: 1", "retries: 0"))
    return target


def make_small_project(root: Path, sources_yml: str, files: dict[str, str]) -> Path:
    """`dango init` a project, then write its sources.yml and data files (path relative to root -> text)."""
    run([str(BIN / "dango"), "init", str(root), "--no-pool"], dict(os.environ))
    (root / "sources.yml").write_text(sources_yml)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def clean_dir(tmp_path) -> Path:
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)
