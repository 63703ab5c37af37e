"""Run dbt as a subprocess (never at DAG parse time) and keep the manifest that Cosmos renders from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dango_provider.core.naming import Naming
from dango_provider.exceptions import DbtRunError
from dango_provider.offline import TELEMETRY_OFF

PARTIAL_PARSE = "partial_parse.msgpack"


def dbt_executable() -> str:
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(args: list[str], dbt_dir: Path, env: dict[str, str], *, timeout: float = 1800) -> str:
    """Run ``dbt <args>`` in ``dbt_dir``; return its output or raise DbtRunError with the failing lines."""
    from dango_provider.core.dbt_profile import profiles_dir

    command = [dbt_executable(), *args, "--project-dir", str(dbt_dir), "--profiles-dir", str(profiles_dir(dbt_dir, env))]
    full_env = {**os.environ, **TELEMETRY_OFF, **env}
    proc = subprocess.run(command, cwd=dbt_dir, env=full_env, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        lines = [ln for ln in output.splitlines() if "error" in ln.lower() or "fail" in ln.lower()]
        raise DbtRunError(
            f"`dbt {' '.join(args)}` in '{dbt_dir}' exited {proc.returncode}:\n" + "\n".join(lines[-20:] or output.splitlines()[-20:])
        )
    return output


def refresh_manifest(dbt_dir: Path, env: dict[str, str], target: str | None = None) -> Path:
    """``dbt parse`` into a temporary target, then atomically replace ``target/manifest.json``.

    The DAG processor may read the manifest at any moment; it never sees a half-written file.
    The caller holds the dbt project lock. Profile and target are named as the transform's ``dbt_build``
    names them, so its dbt parses partially from the state this parse keeps (dbt parses everything again
    when they differ).
    """
    from dango_provider.core.dbt_profile import profile_name

    manifest = Naming.manifest_path(dbt_dir)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    for stale in manifest.parent.glob(".parse-*"):  # left by a killed parse; callers hold the project lock
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=manifest.parent, prefix=".parse-") as tmp:
        # dbt's partial parsing state, kept beside the manifest: only changed files are parsed again
        cache = manifest.parent / PARTIAL_PARSE
        if cache.exists():
            shutil.copyfile(cache, Path(tmp) / PARTIAL_PARSE)
        named = ["--profile", profile_name(dbt_dir)] + (["--target", target] if target else [])
        run_dbt(["parse", "--target-path", tmp, "--quiet", *named], dbt_dir, env)
        if (Path(tmp) / PARTIAL_PARSE).exists():
            os.replace(Path(tmp) / PARTIAL_PARSE, cache)
        os.replace(Path(tmp) / "manifest.json", manifest)
    return manifest


_PARSED: dict[Path, tuple[tuple[int, int], dict]] = {}


def read_manifest(dbt_dir: Path) -> dict:
    """The project's ``target/manifest.json`` ({} when missing or unreadable), parsed once per version of
    the file in this process (``airflow dags test`` runs every dbt task of a run in one process). The
    result is shared: callers must not change it."""
    import json

    path = Naming.manifest_path(dbt_dir)
    try:
        stat = path.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        cached = _PARSED.get(path)
        if cached and cached[0] == version:
            return cached[1]
        parsed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    parsed = parsed if isinstance(parsed, dict) else {}
    _PARSED[path] = (version, parsed)
    return parsed


def manifest_is_stale(dbt_dir: Path, files: list[Path]) -> bool:
    """True when the manifest is missing or older than one of ``files`` (a refresh was killed or failed)."""
    manifest = Naming.manifest_path(dbt_dir)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(f.exists() and f.stat().st_mtime > built for f in files)
