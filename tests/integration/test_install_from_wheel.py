"""README's install block, run as written on a copy of this repository's tracked files and a clean
virtual environment: the wheel builds, installs with the lock's versions, and what a team then runs
works from that environment alone (the console script, the demo scaffold, Airflow seeing the provider
and its plugin); the optional parts stay out."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def readme_install_block() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Adopting it in an existing Airflow"):]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def sh(args, env, cwd, timeout=900) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_readme_install_block_on_a_clean_venv(tmp_path):
    block = readme_install_block()
    assert "uv pip install --python \"$AIRFLOW_PYTHON\" dist/dango_provider-" in block
    copy = tmp_path / "repo"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHON"))}
    sh(["python3", "-m", "uv", "venv", "-q", str(tmp_path / "venv"), "--python", "python3"], env, tmp_path)
    python = tmp_path / "venv" / "bin" / "python"
    sh(["bash", "-euo", "pipefail", "-c", block], {**env, "AIRFLOW_PYTHON": str(python)}, cwd=copy)

    bin_ = python.parent
    where = sh([str(python), "-c", "import dango_provider; print(dango_provider.__file__)"], env, tmp_path).stdout
    assert where.startswith(str(tmp_path / "venv")), where
    missing = sh([str(python), "-c", "import importlib.util as u; print([m for m in ('en_core_web_sm', 'psycopg2', "
                  "'pytest') if u.find_spec(m)])"], env, tmp_path).stdout
    assert missing.strip() == "[]", "the optional parts ([ner], [postgres], [test]) are not installed"

    sh([str(bin_ / "dango"), "init", str(tmp_path / "project"), "--demo", "--no-pool"], env, tmp_path)
    valid = sh([str(bin_ / "dango"), "validate", str(tmp_path / "project")], env, tmp_path).stdout
    assert "valid, 4 source(s)" in valid
    airflow_env = {**env, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                   "SCARF_NO_ANALYTICS": "true", "DO_NOT_TRACK": "true"}
    providers = sh([str(bin_ / "airflow"), "providers", "list"], airflow_env, tmp_path).stdout
    assert "dango-provider" in providers
    plugins = sh([str(bin_ / "airflow"), "plugins"], airflow_env, tmp_path).stdout
    assert "dango" in plugins
