"""Dango 1.0.13 itself, installed from PyPI into a venv of its own (kept under ~/.cache between runs), for
tests and benchmarks whose spec is Dango's own behaviour."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

VERSION = "1.0.13"
VENV = Path(os.environ.get("DANGO_PEER_VENV", Path.home() / ".cache" / "dango-provider" / f"getdango-{VERSION}"))
#: Dango's own switches for its usage telemetry and update checks
OFFLINE_ENV = {"DO_NOT_TRACK": "1", "DANGO_TELEMETRY": "0", "SCARF_NO_ANALYTICS": "true",
               "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "RUNTIME__DLTHUB_TELEMETRY": "false"}


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def dango_venv() -> Path:
    """The venv's directory, created and filled on first use (uv, from PyPI)."""
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "dango").exists():
        shutil.rmtree(VENV, ignore_errors=True)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        interpreter = f"{sys.version_info.major}.{sys.version_info.minor}"
        subprocess.run([*_uv(), "venv", "-q", "-p", interpreter, str(VENV)], check=True)
        subprocess.run([*_uv(), "pip", "install", "-q", "--python", str(python), f"getdango=={VERSION}"], check=True)
    return VENV


def run_python(code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` with Dango's interpreter (its own packages, none of ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH"))}
    return subprocess.run([str(dango_venv() / "bin" / "python"), "-c", code, *args], cwd=cwd, check=True,
                          env={**env, **OFFLINE_ENV}, capture_output=True, text=True, timeout=600)


def run_dango(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Dango's own CLI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH"))}
    return subprocess.run([str(dango_venv() / "bin" / "dango"), *args], cwd=cwd, check=True,
                          env={**env, **OFFLINE_ENV}, capture_output=True, text=True, timeout=600)
