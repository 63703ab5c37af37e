"""Run dbt (a subprocess, or in the task's process; never at DAG parse time) and keep the manifest that
Cosmos renders from."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
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


def release_duckdb() -> None:
    """Close the DuckDB connection dbt-duckdb keeps for the process (no-op when there is none): the next
    task of the same process (``airflow dags test`` runs them all in one) and other processes then open
    the file as if dbt had exited."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - dbt-duckdb is a dependency
        return
    with DuckDBConnectionManager._LOCK:
        environment, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if environment is not None:
        environment.close()
    gc.collect()


def remember_jinja_parses() -> None:
    """Turn on dbt's per-process caches of Jinja parses (decision 0023): the parse of a text (a macro file's
    blocks, a template, the macro calls in it) is kept under the text itself, so a parse of a project reuses
    what an earlier parse in the process, or in the process it was forked from, found for the same text
    (dbt's and dbt-duckdb's own 500 macros above all). dbt's functional tests run with them on
    (``dbt.tests.fixtures.project``); they are off by default. Only for processes that end or parse a
    bounded set of texts (task processes, the scheduler's one warm-up): the caches are never emptied."""
    from dbt_common.tests import enable_test_caching

    enable_test_caching()


def run_dbt_in_process(args: list[str], dbt_dir: Path, env: dict[str, str]) -> None:
    """``dbt <args>`` in this process, as ``run_dbt`` runs it in a subprocess but without a Python start
    and dbt's import (seconds each); the caller holds the warehouse's write lock. ``env`` is set for the
    invocation only; dbt's adapters are reset and dbt-duckdb's connection closed afterwards. Raises
    DbtRunError with what dbt reported when it failed."""
    from dbt.adapters.factory import reset_adapters
    from dbt.cli.main import dbtRunner

    from dango_provider.core.dbt_profile import profiles_dir

    remember_jinja_parses()
    cli_args = [*args, "--project-dir", str(dbt_dir), "--profiles-dir", str(profiles_dir(dbt_dir, env))]
    variables = {**TELEMETRY_OFF, **env}
    saved = {name: os.environ.get(name) for name in variables}
    cwd = os.getcwd()
    os.environ.update(variables)
    os.chdir(dbt_dir)
    try:
        result = dbtRunner().invoke(cli_args)
    finally:
        os.chdir(cwd)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_adapters()
        release_duckdb()
    if result.success:
        return
    failed = [f"{outcome.node.name}: {outcome.message}" for outcome in getattr(result.result, "results", None) or []
              if str(outcome.status) in ("error", "fail", "runtime error")]
    detail = str(result.exception) if result.exception else "\n".join(failed) or "no message"
    raise DbtRunError(f"`dbt {' '.join(args)}` in '{dbt_dir}' failed:\n{detail}")


def with_parse_state(dbt_dir: Path, target_path: Path, target: str | None) -> list[str]:
    """Seed ``target_path`` with dbt's partial parsing state kept beside the project's manifest and return
    the ``--profile``/``--target`` arguments every parse of the project names (dbt parses everything
    again when they differ from the state's)."""
    from dango_provider.core.dbt_profile import profile_name

    state = Naming.manifest_path(dbt_dir).parent / PARTIAL_PARSE
    if state.exists():
        shutil.copyfile(state, target_path / PARTIAL_PARSE)
    return ["--profile", profile_name(dbt_dir)] + (["--target", target] if target else [])


def refresh_manifest(dbt_dir: Path, env: dict[str, str], target: str | None = None,
                     run: Callable[[list[str], Path, dict[str, str]], object] = run_dbt) -> Path:
    """``dbt parse`` into a temporary target, then atomically replace ``target/manifest.json``.
    ``run(args, dbt_dir, env)`` runs dbt: a subprocess by default, or ``run_dbt_in_process``.

    The DAG processor may read the manifest at any moment; it never sees a half-written file.
    The caller holds the dbt project lock. Profile and target are named as the transform's ``dbt_build``
    names them, so its dbt parses partially from the state this parse keeps (dbt parses everything again
    when they differ).
    """
    manifest = Naming.manifest_path(dbt_dir)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    for stale in manifest.parent.glob(".parse-*"):  # left by a killed parse; callers hold the project lock
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=manifest.parent, prefix=".parse-") as tmp:
        # dbt's partial parsing state, kept beside the manifest: only changed files are parsed again
        named = with_parse_state(dbt_dir, Path(tmp), target)
        run(["parse", "--target-path", tmp, "--quiet", *named], dbt_dir, env)
        if (Path(tmp) / PARTIAL_PARSE).exists():
            os.replace(Path(tmp) / PARTIAL_PARSE, manifest.parent / PARTIAL_PARSE)
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
